"""Template context for the navigation: which workspace links a person sees, and the bell's count."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.selectors import is_any_organizer, is_host_member
from notices import selectors as notice_selectors


def nav_roles(user: Any) -> tuple[bool, bool]:
    """(organizer, host): which workspace links this person sees, from the memberships read with
    them (accounts.backends), so no query of its own on a page."""
    if user is None or not user.is_authenticated:
        return (False, False)
    return (is_any_organizer(user=user), is_host_member(user=user))


def workspace_links(request: HttpRequest) -> dict[str, Any]:
    """``roles``: which workspace links the signed-in person sees, read only when a template asks and
    from the memberships already read for the request (no query of its own)."""
    user = getattr(request, "user", None)

    def roles() -> dict[str, bool]:
        organizer, host = nav_roles(user)
        return {"organizer": organizer, "host": host}

    def unread() -> int:
        if user is None or not user.is_authenticated:
            return 0
        return notice_selectors.unread_count(user=user)

    # ``unread_notices``: the bell's count, one query when a page shows the bell.
    return {"roles": SimpleLazyObject(roles), "unread_notices": SimpleLazyObject(unread)}
