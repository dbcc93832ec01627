"""WebSocket authentication: the browser's session cookie, a single-use ``?ticket=`` (from
``POST /api/ws-ticket/``), or ``?token=<API token>`` (kept for old clients). A ticket or token that is
unknown, used or expired makes the socket anonymous, as a missing one does. Query strings are never
written to the logs (project.log_filters)."""

from urllib.parse import parse_qs

from channels.auth import AuthMiddleware
from channels.db import database_sync_to_async
from channels.sessions import CookieMiddleware, SessionMiddleware
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from rest_framework.authtoken.models import Token


@database_sync_to_async
def _user_for_token(key: str):
    try:
        return Token.objects.select_related("user").get(key=key).user
    except Token.DoesNotExist:
        return None


@database_sync_to_async
def _user_for_ticket(ticket: str):
    from accounts.services import websocket_ticket_redeem

    return websocket_ticket_redeem(ticket=ticket)


class _TokenAuthMiddleware:
    def __init__(self, inner):
        self.inner = inner

    async def __call__(self, scope, receive, send):
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        ticket = (query.get("ticket") or [None])[0]
        token = (query.get("token") or [None])[0]
        if ticket:
            user = await _user_for_ticket(ticket)
            scope = dict(scope, user=user if user is not None else AnonymousUser())
        elif token:
            user = await _user_for_token(token)
            scope = dict(scope, user=user if user is not None and user.is_active else AnonymousUser())
        return await self.inner(scope, receive, send)


class _SessionAuthMiddleware(AuthMiddleware):
    """Channels' AuthMiddleware, minus its database thread hop when there is no session cookie at all
    (most live-stream viewers): the user is then anonymous without asking anything."""

    async def resolve_scope(self, scope):
        if settings.SESSION_COOKIE_NAME not in scope.get("cookies", {}):
            scope["user"]._wrapped = AnonymousUser()
            return
        await super().resolve_scope(scope)


def TokenOrSessionAuthMiddleware(inner):  # noqa: N802 - reads like the other middleware stacks
    """Session cookie first (like AuthMiddlewareStack), then a ticket or token in the query string
    overrides it."""
    return CookieMiddleware(SessionMiddleware(_SessionAuthMiddleware(_TokenAuthMiddleware(inner))))
