"""The Redis cache backend used in production: Django's, failing open when Redis is away.

Everything in the cache can be lost (rate-limit histories, cached answers), so a cache call that
cannot reach Redis answers as if nothing were stored and the request goes on (project.redis_guard).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache, RedisCacheClient

from project.redis_guard import guard_for, redis_errors

# Decrements the counters that still exist (a window that ended is not brought back as -1 forever).
_GIVE_BACK_LUA = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


class ReusingRedisCacheClient(RedisCacheClient):
    """Django's client builds a new ``redis.Redis`` for every cache call, and redis-py fills a
    table of ~170 response callbacks in each: about 0.4 ms of CPU per call, more than the round
    trip. One ``redis.Redis`` per connection pool serves every call (it is thread-safe)."""

    def get_client(self, key=None, *, write=False):
        pool = self._get_connection_pool(write)
        clients = self.__dict__.setdefault("_clients_by_pool", {})
        client = clients.get(id(pool))
        if client is None:
            client = clients[id(pool)] = self._client(connection_pool=pool)
        return client


class FailOpenRedisCache(RedisCache):
    def __init__(self, server, params) -> None:
        super().__init__(server, params)
        self._class = ReusingRedisCacheClient
        # One guard per process and server (Django makes a cache object per thread).
        self._guard = guard_for("cache", ",".join(self._servers))

    def _guarded(self, call: Callable[[], Any], fallback: Any) -> Any:
        cache_guard = self._guard
        if not cache_guard.may_try():
            return fallback
        try:
            result = call()
        except redis_errors() as exc:
            cache_guard.failed(exc)
            return fallback
        cache_guard.succeeded()
        return result

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(lambda: super(FailOpenRedisCache, self).add(key, value, timeout, version), False)

    def get(self, key, default=None, version=None):
        return self._guarded(lambda: super(FailOpenRedisCache, self).get(key, default, version), default)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(lambda: super(FailOpenRedisCache, self).set(key, value, timeout, version), None)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(lambda: super(FailOpenRedisCache, self).touch(key, timeout, version), False)

    def delete(self, key, version=None):
        return self._guarded(lambda: super(FailOpenRedisCache, self).delete(key, version), False)

    def get_many(self, keys, version=None):
        return self._guarded(lambda: super(FailOpenRedisCache, self).get_many(keys, version), {})

    def has_key(self, key, version=None):
        return self._guarded(lambda: super(FailOpenRedisCache, self).has_key(key, version), False)

    def incr(self, key, delta=1, version=None):
        # As if the count had started afresh: a rate limit counted in the cache lets the call through.
        return self._guarded(lambda: super(FailOpenRedisCache, self).incr(key, delta, version), delta)

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._guarded(lambda: super(FailOpenRedisCache, self).set_many(data, timeout, version), list(data))

    def delete_many(self, keys, version=None):
        return self._guarded(lambda: super(FailOpenRedisCache, self).delete_many(keys, version), None)

    def clear(self):
        return self._guarded(lambda: super(FailOpenRedisCache, self).clear(), False)

    def window_count(self, key: str, timeout: int, delta: int = 1) -> int:
        """INCRBY and EXPIRE of a rate-limit window's counter in one round trip; ``delta`` when
        Redis is away."""
        redis_key = self.make_and_validate_key(key)

        def count() -> int:
            pipe = self._cache.get_client(redis_key, write=True).pipeline(transaction=False)
            pipe.incrby(redis_key, delta)
            pipe.expire(redis_key, timeout + 1)
            return int(pipe.execute()[0])

        return self._guarded(count, delta)

    def take_places(self, keys: Sequence[str], timeout: int) -> list[int] | None:
        """One more place in each of several counters, in one MULTI: each window starts (and its
        expiry is set) with its first place, so an expiry is never lost between SET and INCR, and
        no other client sees one counter moved and the other not. The counts in ``keys`` order, or
        None when Redis is away (the caller fails open)."""
        redis_keys = [self.make_and_validate_key(key) for key in keys]

        def take() -> list[int]:
            pipe = self._cache.get_client(redis_keys[0], write=True).pipeline(transaction=True)
            for redis_key in redis_keys:
                pipe.set(redis_key, 0, ex=timeout, nx=True)
                pipe.incr(redis_key)
            results = pipe.execute()
            return [int(results[2 * i + 1]) for i in range(len(redis_keys))]

        return self._guarded(take, None)

    def give_back_places(self, keys: Sequence[str]) -> None:
        """Every place back in one atomic step (a Lua script): a counter whose window ended is
        left ended, not brought back as -1. Nothing happens when Redis is away."""
        redis_keys = [self.make_and_validate_key(key) for key in keys]

        def give_back() -> None:
            self._cache.get_client(redis_keys[0], write=True).eval(_GIVE_BACK_LUA, len(redis_keys), *redis_keys)

        self._guarded(give_back, None)


def window_count(key: str, *, timeout: int, delta: int = 1) -> int:
    """The number of calls counted so far in a fixed rate-limit window (the ``delta`` added now
    included).

    On Redis one pipelined round trip; on another cache (the embedded default's local memory) an
    add-then-increment, which is atomic within the process that owns that memory."""
    from django.core.cache import caches

    cache = caches["default"]
    if isinstance(cache, FailOpenRedisCache):
        return cache.window_count(key, timeout, delta)
    for _attempt in range(3):
        cache.add(key, 0, timeout + 1)
        try:
            return int(cache.incr(key, delta))
        except ValueError:  # the key expired between add and incr
            continue
    return delta
