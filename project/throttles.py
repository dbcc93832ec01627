"""The API's rate limits, at one cache round trip per request.

DRF's ``SimpleRateThrottle`` keeps a sliding history per client: it reads the list of timestamps and
writes it back, two round trips to Redis on every request, the largest single cost of a registration
under a rush. These throttles count in fixed windows instead: the window's counter is incremented
and given its expiry in one pipelined round trip (``project.cache.window_count``), and the request is
refused once the count passes the rate. A fixed window lets a client spend at most twice the rate
across a window boundary, which is what a limit meant to stop scripts needs; the rates, scopes and
settings (``DEFAULT_THROTTLE_RATES``, ``THROTTLE_*``) are DRF's, and so are the client identities
(the account, else the address after ``NUM_PROXIES``).

A local decision where one serves: a rate of at least ``THROTTLE_LOCAL_MIN_RATE`` calls per window
lets each process allow a client's first ``THROTTLE_LOCAL_SHARE`` of it (5 %: 60 of ``user``'s
1,200 a minute) without asking Redis. A fan who registers once, or reloads a few times, never costs
a round trip; a client that goes past its process's share has everything it did there counted in the
shared window at once (one INCRBY) and every further call counted there too. The shared count may so
miss at most that share per process that the client touched, on top of the fixed window's own slack;
small rates (signups, logins) are always counted in the shared window.
"""

from __future__ import annotations

import threading
import time

from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from project.cache import window_count


class LocalCounts:
    """This process's calls per client in the current window of each scope, up to a share of the rate."""

    def __init__(self) -> None:
        self._windows: dict[str, tuple[int, dict[str, int]]] = {}
        self._lock = threading.Lock()

    def to_share(self, scope: str, window: int, ident: str, allowance: int) -> int:
        """Counts one call: 0 while the client is within ``allowance`` here (allowed locally), else
        how many calls to add to the shared window now (all those counted here, the first time)."""
        with self._lock:
            current = self._windows.get(scope)
            if current is None or current[0] != window:
                current = (window, {})
                self._windows[scope] = current
            counts = current[1]
            count = counts.get(ident, 0) + 1
            counts[ident] = count
        if count <= allowance:
            return 0
        return count if count == allowance + 1 else 1

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


local_counts = LocalCounts()


def local_allowance(num_requests: int) -> int:
    if num_requests < settings.THROTTLE_LOCAL_MIN_RATE:
        return 0
    return int(num_requests * settings.THROTTLE_LOCAL_SHARE)


class FixedWindowRateThrottle(SimpleRateThrottle):
    """A scope's rate counted per client in fixed windows aligned on the clock."""

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        return self.allow_ident(ident)

    def allow_ident(self, ident: str) -> bool:
        """Counts one call of the client ``ident`` (a cache key of this scope); False: refused."""
        if self.rate is None:
            return True
        now = time.time()
        window = int(now // self.duration)
        self._retry_at = (window + 1) * self.duration
        self._now = now
        delta = local_counts.to_share(self.scope, window, ident, local_allowance(self.num_requests))
        if delta == 0:
            return True
        count = window_count(f"{ident}:{window}", timeout=self.duration, delta=delta)
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
