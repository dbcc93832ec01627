import asyncio

from streams.hub import Hub
from streams.lifespan import lifespan


def test_the_lifespan_completes_startup_and_shutdown():
    async def scenario() -> list[str]:
        incoming = asyncio.Queue()
        for kind in ("lifespan.startup", "lifespan.shutdown"):
            incoming.put_nowait({"type": kind})
        sent: list[str] = []

        async def send(message):
            sent.append(message["type"])

        await asyncio.wait_for(lifespan({"type": "lifespan"}, incoming.get, send), 5)
        return sent

    assert asyncio.run(scenario()) == ["lifespan.startup.complete", "lifespan.shutdown.complete"]


def test_a_hub_that_never_counted_anyone_departs_without_touching_the_backend():
    hub = Hub()
    asyncio.run(hub.depart())
    assert hub.ticks == 0 and hub.streams == {}
