"""Which websocket connections get through to the consumers."""

import json

from channels.security.websocket import OriginValidator
from django.conf import settings
from django.utils.translation import gettext

from project.errors import error_body


class BrowserOriginValidator(OriginValidator):
    """Refuses a socket opened by a page of another site, and lets native clients through.

    Browsers always send ``Origin``, so a foreign page cannot ride on the fan's session cookie
    (cross-site websocket hijacking). Fan apps, host tools and scripts send none; they either watch
    anonymously or authenticate with ``?token=``, which no other site can read, so refusing them (as
    Channels' own validator does) would only shut out the contract's "anyone".
    """

    def valid_origin(self, parsed_origin) -> bool:
        if parsed_origin is None:
            return True
        return self.validate_origin(parsed_origin)


def AllowedHostsBrowserOriginValidator(application):  # noqa: N802 - reads like Channels' own
    allowed_hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed_hosts)


async def websocket_not_found(scope, receive, send) -> None:
    """The last websocket route: a path nothing else matched is refused cleanly, never an error.

    Servers that support the ASGI "websocket.http.response" extension (uvicorn, daphne) answer the
    handshake with a plain HTTP 404; others get the handshake refused (HTTP 403)."""
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    if "websocket.http.response" in scope.get("extensions", {}):
        body = json.dumps(error_body(gettext("Not found."), "not_found")).encode()
        await send(
            {
                "type": "websocket.http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "websocket.http.response.body", "body": body})
    else:
        await send({"type": "websocket.close", "code": 1000})
