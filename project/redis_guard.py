"""Redis is optional for serving: when it is away, what lives in it degrades instead of failing.

What Redis holds here is either a rate limit (DRF throttles, the page throttles), a cache, or the live
audience: losing it for a while costs fresh live figures and rate limits, never a registration or a
page. Each user of Redis keeps a ``RedisGuard``:

- calls fail open (the cache answers "nothing stored", a throttle lets the request through) after a
  short socket timeout (``REDIS_TIMEOUT_SECONDS``);
- after a failure Redis is left alone for ``REDIS_RETRY_SECONDS``, so during an outage a request pays
  nothing at all instead of one timeout per cache call; then one call tries again;
- the first failure of an outage is logged once as a warning and the return as one info line with the
  number of calls that missed; ``misses`` counts every call that failed open (``/api/health/``).
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from django.conf import settings

logger = logging.getLogger(__name__)


class RedisGuard:
    def __init__(self, name: str) -> None:
        self.name = name
        self.misses = 0  # calls that failed open since the process started
        self.outages = 0
        self._down_since: float | None = None
        self._retry_at = 0.0
        self._outage_misses = 0
        self._lock = threading.Lock()

    def may_try(self) -> bool:
        """False while Redis is being left alone after a failure: fail open at once (counted)."""
        if self._down_since is None or time.monotonic() >= self._retry_at:
            return True
        self.missed()
        return False

    def missed(self) -> None:
        with self._lock:
            self.misses += 1
            self._outage_misses += 1

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            self.misses += 1
            self._outage_misses += 1
            self._retry_at = now + float(settings.REDIS_RETRY_SECONDS)
            first = self._down_since is None
            if first:
                self._down_since = now
                self.outages += 1
        if first:
            logger.warning("redis unavailable for the %s (failing open until it answers again): %s", self.name, exc)

    def succeeded(self) -> None:
        if self._down_since is None:
            return
        with self._lock:
            if self._down_since is None:
                return
            seconds = time.monotonic() - self._down_since
            missed, self._outage_misses = self._outage_misses, 0
            self._down_since = None
        logger.info("redis is back for the %s after %.1f s; %d calls failed open meanwhile", self.name, seconds, missed)

    @property
    def down(self) -> bool:
        return self._down_since is not None


_guards: dict[tuple[str, str], RedisGuard] = {}
_guards_lock = threading.Lock()


def guard_for(name: str, url: str) -> RedisGuard:
    """The process's guard of one use (``name``) of one Redis server (``url``)."""
    with _guards_lock:
        guard = _guards.get((name, url))
        if guard is None:
            guard = _guards[(name, url)] = RedisGuard(name)
        return guard


def redis_errors() -> tuple[type[BaseException], ...]:
    import redis

    return (redis.RedisError, OSError)


def guards_report() -> dict[str, dict[str, Any]]:
    """Per use of the configured Redis in this process: is it failing open now, and how many calls
    have (the health endpoint). Empty on the embedded default."""
    uses: list[tuple[str, str]] = []
    cache = settings.CACHES.get("default", {})
    if cache.get("BACKEND") == "project.cache.FailOpenRedisCache":
        uses.append(("cache", str(cache["LOCATION"])))
    if settings.REDIS_URL:
        uses.append(("live audience", settings.REDIS_URL))
    report: dict[str, dict[str, Any]] = {}
    for name, url in uses:
        guard = guard_for(name, url)
        report[name] = {"down": guard.down, "misses": guard.misses}
    return report
