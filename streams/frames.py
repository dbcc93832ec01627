"""One websocket frame for all of a process's viewers: encode a push once, write the same bytes to
every socket.

Server-to-client frames are not masked (RFC 6455, 5.1), so a text message is the same bytes on
every connection. Going through the ASGI ``send`` costs, per socket, a message dict, websockets'
frame building and a join; with 10,000 viewers that is most of a push. Where the server is uvicorn's
sans-I/O websockets protocol (uvicorn's default with the ``websockets`` package) and the connection
negotiated no extension (``--ws-per-message-deflate false``, as this project runs it), the hub writes
the pre-built frame to the socket's transport directly; anything else (another server, compression,
a socket that is closing or whose buffer is full) takes the ordinary ``send``. Turned off with
``WS_SHARED_FRAMES=false``.
"""

from __future__ import annotations

import struct
from typing import Any

from django.conf import settings

try:  # the only server whose protocol object is understood here
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
    from websockets.protocol import State
except ImportError:  # pragma: no cover - another server
    WebSocketsSansIOProtocol = None  # type: ignore[assignment,misc]
    State = None  # type: ignore[assignment,misc]


def text_frame(text: str) -> bytes:
    """A final, unmasked text frame carrying ``text``."""
    payload = text.encode()
    size = len(payload)
    if size < 126:
        header = struct.pack("!BB", 0x81, size)
    elif size < 1 << 16:
        header = struct.pack("!BBH", 0x81, 126, size)
    else:
        header = struct.pack("!BBQ", 0x81, 127, size)
    return header + payload


def shared_frame_socket(send: Any) -> Any | None:
    """The uvicorn protocol behind an ASGI ``send``, if frames may be written to it directly.

    Channels' session middleware wraps ``send`` (``real_send``) to save sessions on HTTP responses;
    it does nothing for websocket messages, so its wrapper is looked through."""
    if WebSocketsSansIOProtocol is None or not getattr(settings, "WS_SHARED_FRAMES", True):
        return None
    for _ in range(8):
        owner = getattr(send, "__self__", None)
        if isinstance(owner, WebSocketsSansIOProtocol):
            return None if owner.conn.extensions else owner
        send = getattr(owner, "real_send", None)
        if send is None:
            return None
    return None


def write_frame(protocol: Any, frame: bytes) -> bool:
    """Write ``frame`` now if the socket is open and its buffer has room; False: use ``send``."""
    if (
        protocol.close_sent
        or not protocol.writable.is_set()
        or protocol.conn.state is not State.OPEN
        or protocol.transport.is_closing()
    ):
        return False
    protocol.transport.write(frame)
    return True
