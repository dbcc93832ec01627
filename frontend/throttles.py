"""The sign-in and sign-up pages share the API's budgets: the ``login`` and ``signup`` scopes of
DEFAULT_THROTTLE_RATES, counted per address in the same cache keys as the API's scoped throttles,
so that guessing passwords through the page is no cheaper than through ``/api/auth/token/``."""

from django.http import HttpRequest
from rest_framework.throttling import SimpleRateThrottle


class PageThrottle(SimpleRateThrottle):
    def __init__(self, scope: str) -> None:
        self.scope = scope
        super().__init__()

    def get_cache_key(self, request, view) -> str:
        # The API's ScopedRateThrottle key for an anonymous client (these pages are used signed out).
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


def retry_after(request: HttpRequest, *, scope: str) -> int | None:
    """Counts this request; None when allowed, else the seconds to wait."""
    throttle = PageThrottle(scope)
    if throttle.allow_request(request, None):
        return None
    return max(1, int(throttle.wait() or 1))
