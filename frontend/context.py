"""Template context for the navigation: which workspace links a person sees."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest
from django.utils.functional import SimpleLazyObject

from accounts.selectors import is_any_organizer, is_host_member


def workspace_links(request: HttpRequest) -> dict[str, Any]:
    """``roles``: which workspace links the signed-in person sees, read only when a template asks and
    from the memberships already read for the request (no query of its own)."""
    user = getattr(request, "user", None)

    def roles() -> dict[str, bool]:
        if user is None or not user.is_authenticated:
            return {"organizer": False, "host": False}
        return {"organizer": is_any_organizer(user=user), "host": is_host_member(user=user)}

    return {"roles": SimpleLazyObject(roles)}
