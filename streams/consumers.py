"""Live audience websockets (see streams.hub for how figures reach them).

``/ws/streams/<id>/``: anyone who may see the stream. The server sends
``{"type": "viewers", "concurrent", "peak", "total_views", "at", "stale", "status"}`` when the figures
change, at most once per tick. The client may send ``{"type": "heartbeat"}``; every other well-formed
message is ignored. A binary, oversized (> MAX_FRAME bytes), too deeply nested or malformed frame closes
that socket only.

``/ws/streams/<id>/host/``: the stream's hosts and its organization's organizers (others are closed
with 4403); the same messages plus ``unique_viewers`` and ``platforms`` (per-platform concurrent).
A viewer outside the stream's audience (``registered`` or ``confirmed``: streams.selectors.WatchRights)
is closed with 4403 too, before being counted.

A viewer is identified (for unique viewers and total views) by user id when signed in, else by the
signed browser id the stream pages hand out in a cookie, else by the session, else by the address
(``streams.viewer_ids``).

One address may hold at most WS_MAX_SOCKETS_PER_ADDRESS sockets per worker process; more are closed
with 4429.
"""

from __future__ import annotations

import json
import logging
import time

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer

from streams import selectors
from streams.frames import shared_frame_socket
from streams.hub import Connection, get_hub
from streams.viewer_ids import client_address, viewer_key

logger = logging.getLogger(__name__)

MAX_FRAME = 4096
MAX_NESTING = 8  # brackets per frame; the protocol's messages are flat objects
MAX_STREAM_ID = 2**63 - 1
CLOSE_NOT_FOUND = 4404
CLOSE_FORBIDDEN = 4403
CLOSE_MALFORMED = 4400
CLOSE_TOO_MANY = 4429
CLOSE_UNSUPPORTED = 1003
CLOSE_TOO_BIG = 1009
CLOSE_INTERNAL_ERROR = 1011
_PUBLIC_TTL = 2.0
_public_cache: dict[int, tuple[float, selectors.StreamAccess | None]] = {}


@database_sync_to_async
def _access(user, stream_id: int) -> selectors.StreamAccess | None:
    return selectors.stream_access(user=user, stream_id=stream_id)


async def _access_for(user, stream_id: int, *, host: bool) -> selectors.StreamAccess | None:
    """Anonymous viewers of a public stream are the bulk of connections: their answer is the same for
    everyone, so it is kept for a couple of seconds instead of asking the database per connection."""
    if host or (user is not None and user.is_authenticated):
        return await _access(user, stream_id)
    now = time.monotonic()
    cached = _public_cache.get(stream_id)
    if cached is not None and cached[0] > now:
        return cached[1]
    access = await _access(user, stream_id)
    if len(_public_cache) > 10_000:
        _public_cache.clear()
    _public_cache[stream_id] = (now + _PUBLIC_TTL, access)
    return access


def parse_frame(text: str) -> dict | None:
    """The client's message, or None when the frame is not a small flat JSON object with a ``type``.

    Brackets are counted before parsing: a few kilobytes of ``[[[[`` make ``json.loads`` raise
    RecursionError (not a ValueError), and nothing a client sends is allowed to raise out of here."""
    if text.count("[") + text.count("{") > MAX_NESTING:
        return None
    try:
        message = json.loads(text)
    except Exception:  # ValueError, RecursionError, MemoryError: any of them is a malformed frame
        return None
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        return None
    return message


class ViewerConsumer(AsyncWebsocketConsumer):
    # Figures are pushed by this process's hub straight to its sockets, not through a channel layer.
    channel_layer_alias = "__no_channel_layer__"
    host = False
    conn: Connection | None = None
    address: str | None = None  # set while this socket holds one of its address's slots

    async def __call__(self, scope, receive, send) -> None:
        """Whatever ends this socket (a close, a crash, a cancelled task), it stops being counted."""
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._leave()
            if self.address is not None:
                get_hub().release_address(self.address)
                self.address = None

    async def dispatch(self, message) -> None:
        """As Channels' dispatch, without its ``aclose_old_connections()`` thread hop per frame: these
        handlers touch the database only through database_sync_to_async, which cleans up itself.
        At thousands of sockets the hop per heartbeat and per connect is most of the cost.

        An unexpected error closes this socket only (1011), after it has left the count."""
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        try:
            await handler(message)
        except StopConsumer:
            raise
        except Exception:
            logger.exception("websocket consumer failed on %s", message["type"])
            await self._reject(CLOSE_INTERNAL_ERROR)

    async def connect(self) -> None:
        address = client_address(self.scope)
        if not get_hub().take_address(address):
            await self.accept()
            await self.close(code=CLOSE_TOO_MANY)
            return
        self.address = address
        stream_id = int(self.scope["url_route"]["kwargs"]["stream_id"])
        if stream_id > MAX_STREAM_ID:
            await self.accept()
            await self.close(code=CLOSE_NOT_FOUND)
            return
        access = await _access_for(self.scope.get("user"), stream_id, host=self.host)
        await self.accept()
        if access is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        if (self.host and not access.can_run) or not access.may_watch:
            await self.close(code=CLOSE_FORBIDDEN)  # not a host, or outside the stream's audience
            return
        self.conn = get_hub().join(
            stream_id=stream_id,
            consumer=self,
            viewer_key=viewer_key(self.scope),
            host=self.host,
            status=access.status,
            floors=access.floors,
            raw=shared_frame_socket(self.base_send),
        )

    async def disconnect(self, code) -> None:
        self._leave()

    def _leave(self) -> None:
        if self.conn is not None:
            conn, self.conn = self.conn, None
            get_hub().leave(conn)

    async def receive(self, text_data=None, bytes_data=None) -> None:
        if text_data is None:
            await self._reject(CLOSE_UNSUPPORTED)
            return
        if len(text_data) > MAX_FRAME:
            await self._reject(CLOSE_TOO_BIG)
            return
        if parse_frame(text_data) is None:
            await self._reject(CLOSE_MALFORMED)
            return
        # {"type": "heartbeat"} keeps proxies from closing an idle socket; anything else is ignored.
        if self.conn is not None:
            get_hub().ensure_ticker()  # cheap; brings the ticker back should it ever have died

    async def _reject(self, code: int) -> None:
        """Stop counting this socket at once, then close it; other sockets are not touched."""
        self._leave()
        await self.close(code=code)

    async def push_text(self, text: str) -> None:
        # Straight to the ASGI send (what Channels' send() ends in), one layer per push fewer.
        await self.base_send({"type": "websocket.send", "text": text})


class HostConsumer(ViewerConsumer):
    host = True
