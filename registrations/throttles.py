"""Throttling of priority-code guesses: only failed guesses count, per account and per address."""

import logging

from django.core.cache.backends.redis import RedisCache
from rest_framework.throttling import SimpleRateThrottle

logger = logging.getLogger(__name__)

_RESERVED = "_priority_code_reservations"
# Decrements the counters that still exist (a window that ended is not brought back as -1 forever).
_GIVE_BACK_LUA = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


class InvalidCodeThrottle(SimpleRateThrottle):
    """Bounds how many priority codes an account, and an address, may have evaluated and found
    wrong: at most ``priority_code`` per window (env THROTTLE_PRIORITY_CODE, e.g. 10/min; empty
    lifts it). Refused requests get 429 before their code is looked at.

    Check and record are one atomic step: a request carrying a code first takes a place in the
    account's and the address's counters (an atomic increment in the cache, whose window starts
    at the first place taken), and the code is evaluated only if a place was free. So 80 parallel
    wrong guesses get exactly the limit of evaluations, not a few more. After the evaluation
    ``settle`` keeps the place only for a wrong code: valid codes, and requests refused for
    another reason (closed, full), give it back, so a fan who types their code right is never
    counted.

    An address that others used up (a campus or a carrier's shared address) still lets an account
    with no wrong guess of its own in the window have its code evaluated: the fan with the right
    code gets in, and the account's one wrong guess is then counted against it like any other.
    Histories live in the default cache: use Redis with several workers. If the cache cannot be
    reached, codes are evaluated unthrottled (registration matters more than the rate limit).
    """

    scope = "priority_code"

    def _keys(self, request) -> dict[str, str]:
        keys = {"ip": self.cache_format % {"scope": self.scope, "ident": f"ip-{self.get_ident(request)}"}}
        if request.user and request.user.is_authenticated:
            keys["user"] = self.cache_format % {"scope": self.scope, "ident": f"user-{request.user.pk}"}
        return keys

    def get_cache_key(self, request, view):  # two keys are needed here; see _keys
        return None

    def _take(self, key: str) -> int:
        """One more place in the key's window, atomically; the count with it."""
        if isinstance(self.cache, RedisCache):
            # SET NX EX and INCR in one transaction: the window's expiry is never lost between them.
            client = self.cache._cache.get_client(key, write=True)
            redis_key = self.cache.make_and_validate_key(key)
            pipe = client.pipeline(transaction=True)
            pipe.set(redis_key, 0, ex=self.duration, nx=True)
            pipe.incr(redis_key)
            return int(pipe.execute()[1])
        for _attempt in range(3):
            self.cache.add(key, 0, self.duration)
            try:
                return int(self.cache.incr(key))
            except ValueError:  # the window ended between add and incr: start the next one
                continue
        return 1

    def _take_all(self, keys: dict[str, str]) -> dict[str, int]:
        """A place in every counter in one atomic step: with the account's and the address's
        counters taken apart, a request could see the account's last place while another's
        increment of the address (given back a moment later) made it look full, and neither would
        be evaluated."""
        if isinstance(self.cache, RedisCache):
            names = list(keys)
            client = self.cache._cache.get_client(keys[names[0]], write=True)
            pipe = client.pipeline(transaction=True)
            for name in names:
                redis_key = self.cache.make_and_validate_key(keys[name])
                pipe.set(redis_key, 0, ex=self.duration, nx=True)
                pipe.incr(redis_key)
            results = pipe.execute()
            return {name: int(results[2 * i + 1]) for i, name in enumerate(names)}
        return {name: self._take(key) for name, key in keys.items()}

    def _give_back_all(self, keys: list[str]) -> None:
        """Every place back in one atomic step (see _take_all)."""
        if isinstance(self.cache, RedisCache):
            client = self.cache._cache.get_client(keys[0], write=True)
            client.eval(_GIVE_BACK_LUA, len(keys), *(self.cache.make_and_validate_key(key) for key in keys))
            return
        for key in keys:
            self._give_back(key)

    def _give_back(self, key: str) -> None:
        try:
            self.cache.decr(key)
        except ValueError:
            pass  # the window has ended anyway

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        data = request.data
        if not (hasattr(data, "get") and data.get("priority_code")):
            return True
        keys = self._keys(request)
        try:
            counts = self._take_all(keys)
        except Exception:  # noqa: BLE001 - a cache outage must not stop registration
            logger.warning("priority-code throttle: cache unavailable; code evaluated unthrottled", exc_info=True)
            return True
        own = counts.get("user", counts["ip"])
        address_free = counts["ip"] <= self.num_requests
        first_of_account = "user" in counts and counts["user"] == 1
        if own <= self.num_requests and (address_free or first_of_account):
            setattr(request, _RESERVED, list(keys.values()))
            return True
        self._give_back_all(list(keys.values()))
        return False

    def wait(self) -> float:
        return float(self.duration)  # Retry-After: at most one window

    @classmethod
    def settle(cls, request, *, wrong_code: bool) -> None:
        """After the evaluation: a wrong code keeps its places; anything else gives them back."""
        keys = getattr(request, _RESERVED, None)
        if not keys or wrong_code:
            return
        throttle = cls()
        try:
            throttle._give_back_all(keys)
        except Exception:  # noqa: BLE001 - see allow_request
            logger.warning("priority-code throttle: cache unavailable while settling", exc_info=True)
