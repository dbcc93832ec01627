"""The ASGI lifespan of a websocket worker: on shutdown, after uvicorn has closed the sockets, the
process leaves the live audience at once (``Hub.depart``) instead of being counted until its
liveness key expires. Run uvicorn with ``--lifespan on`` (the default ``auto`` works too)."""

from typing import Any

from streams.hub import get_hub


async def lifespan(scope: dict[str, Any], receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await get_hub().depart()
            await send({"type": "lifespan.shutdown.complete"})
            return
