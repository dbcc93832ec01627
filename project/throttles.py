"""The API's rate limits, at one cache round trip per request.

DRF's ``SimpleRateThrottle`` keeps a sliding history per client: it reads the list of timestamps and
writes it back, two round trips to Redis on every request, the largest single cost of a registration
under a rush. These throttles count in fixed windows instead: the window's counter is incremented
and given its expiry in one pipelined round trip (``project.cache.window_count``), and the request is
refused once the count passes the rate. A fixed window lets a client spend at most twice the rate
across a window boundary, which is what a limit meant to stop scripts needs; the rates, scopes and
settings (``DEFAULT_THROTTLE_RATES``, ``THROTTLE_*``) are DRF's, and so are the client identities
(the account, else the address after ``NUM_PROXIES``).
"""

from __future__ import annotations

import time

from rest_framework.throttling import SimpleRateThrottle

from project.cache import window_count


class FixedWindowRateThrottle(SimpleRateThrottle):
    """A scope's rate counted per client in fixed windows aligned on the clock."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self._retry_at = (window + 1) * self.duration
        self._now = now
        count = window_count(f"{ident}:{window}", timeout=self.duration)
        return count <= self.num_requests

    def wait(self) -> float:
        return max(1.0, self._retry_at - self._now)


class AnonRateThrottle(FixedWindowRateThrottle):
    """Anonymous clients, per address (scope ``anon``)."""

    scope = "anon"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class UserRateThrottle(FixedWindowRateThrottle):
    """Signed-in clients per account, anonymous ones per address (scope ``user``)."""

    scope = "user"

    def get_cache_key(self, request, view) -> str | None:
        if request.user and request.user.is_authenticated:
            ident = request.user.pk
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
