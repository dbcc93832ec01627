"""Who a viewer is, for unique viewers and total views, from what the server itself handed out.

The stream pages give each browser a random id in a signed, HttpOnly cookie (``aperture_viewer``);
the websocket carries it back on its own (same site). A client cannot choose its id (the old
``?viewer=`` let one address count 150 viewers), it can only fetch a new page for a new one.

A socket's viewer key: the user's id when signed in, else the signed browser id, else the session,
else its address (clients without a cookie: apps and scripts; several behind one address then count
as one viewer, never one per socket, so reconnecting in a loop adds no views).
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse

VIEWER_COOKIE = "aperture_viewer"
_SALT = "streams.viewer_ids"
_MAX_AGE = 365 * 24 * 3600


def _signer() -> signing.Signer:
    # Signed here and read back here (the websocket has no HttpRequest.get_signed_cookie).
    return signing.Signer(salt=_SALT)


def signed_viewer_id(viewer_id: str) -> str:
    """The cookie value for a viewer id (the pages set it; tests use it to be distinct browsers)."""
    return _signer().sign(viewer_id)


def viewer_id_from_cookie(value: str | None) -> str | None:
    """The id in a cookie value this server signed, else None (missing, forged, another site's key)."""
    if not value:
        return None
    try:
        return _signer().unsign(value)
    except signing.BadSignature:
        return None


def viewer_cookie_issue(*, request: HttpRequest, response: HttpResponse) -> None:
    """Give this browser a signed viewer id unless it already has a valid one."""
    if viewer_id_from_cookie(request.COOKIES.get(VIEWER_COOKIE)) is not None:
        return
    response.set_cookie(
        VIEWER_COOKIE,
        signed_viewer_id(secrets.token_hex(16)),
        max_age=_MAX_AGE,
        httponly=True,
        samesite="Lax",
        secure=settings.SESSION_COOKIE_SECURE,
    )


def _hashed(kind: str, raw: str) -> str:
    return kind + hashlib.blake2b(raw.encode(), digest_size=12).hexdigest()


def client_address(scope: dict[str, Any]) -> str:
    """The peer's address (behind a proxy, uvicorn puts the client's there from X-Forwarded-For
    when the proxy is in ``--forwarded-allow-ips``, 127.0.0.1 by default)."""
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def viewer_key(scope: dict[str, Any]) -> str:
    user = scope.get("user")
    if user is not None and user.is_authenticated:
        return f"u{user.pk}"
    browser_id = viewer_id_from_cookie(scope.get("cookies", {}).get(VIEWER_COOKIE))
    if browser_id is not None:
        return _hashed("b", browser_id)
    session = scope.get("session")
    session_key = getattr(session, "session_key", None) if session is not None else None
    if session_key:
        return _hashed("s", session_key)
    return _hashed("a", client_address(scope))
