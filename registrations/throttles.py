"""Throttling of priority-code guesses: only failed guesses count, per account and per address."""

import hashlib
import logging
import threading

from django.core.cache import DEFAULT_CACHE_ALIAS, caches
from django.core.cache import cache as default_cache_proxy
from django.core.cache.backends.base import BaseCache
from rest_framework.throttling import SimpleRateThrottle

from project.cache import FailOpenRedisCache
from project.throttles import UserRateThrottle

logger = logging.getLogger(__name__)

_RESERVED = "_priority_code_reservations"
# Makes taking (and giving back) both places one step on a cache that lives in this process's
# memory (the embedded default); Redis does it in one MULTI / Lua script instead.
_LOCAL_LOCK = threading.Lock()


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

    def _backend(self) -> BaseCache:
        """The cache object itself. DRF's ``cache`` is Django's proxy of the default cache, and
        the proxy is no instance of the backend's class: asking it ``isinstance(..., RedisCache)``
        always answered False, so on Redis the two places were taken one at a time and a request
        could be refused by another's passing increment (9 evaluations of 80 wrong guesses, not 10)."""
        return caches[DEFAULT_CACHE_ALIAS] if self.cache is default_cache_proxy else self.cache

    def _take(self, cache: BaseCache, key: str) -> int:
        """One more place in the key's window; the count with it."""
        for _attempt in range(3):
            cache.add(key, 0, self.duration)
            try:
                return int(cache.incr(key))
            except ValueError:  # the window ended between add and incr: start the next one
                continue
        return 1

    def _take_all(self, keys: dict[str, str]) -> dict[str, int] | None:
        """A place in every counter in one atomic step, or None when the cache is away: with the
        account's and the address's counters taken apart, a request could see the account's last
        place while another's increment of the address (given back a moment later) made it look
        full, and neither would be evaluated."""
        cache = self._backend()
        if isinstance(cache, FailOpenRedisCache):
            counts = cache.take_places(list(keys.values()), self.duration)
            return None if counts is None else dict(zip(keys, counts, strict=True))
        with _LOCAL_LOCK:
            return {name: self._take(cache, key) for name, key in keys.items()}

    def _give_back_all(self, keys: list[str]) -> None:
        """Every place back in one atomic step (see _take_all); a window that ended stays ended."""
        cache = self._backend()
        if isinstance(cache, FailOpenRedisCache):
            cache.give_back_places(keys)
            return
        with _LOCAL_LOCK:
            for key in keys:
                try:
                    cache.decr(key)
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
        if counts is None:  # Redis is away (project.redis_guard has said so once): unthrottled
            return True
        own = counts.get("user", counts["ip"])
        address_free = counts["ip"] <= self.num_requests
        first_of_account = "user" in counts and counts["user"] == 1
        if own <= self.num_requests and (address_free or first_of_account):
            setattr(request, _RESERVED, list(keys.values()))
            return True
        self._give_back_places(list(keys.values()))
        return False

    def wait(self) -> float:
        return float(self.duration)  # Retry-After: at most one window

    @classmethod
    def settle(cls, request, *, wrong_code: bool) -> None:
        """After the evaluation: a wrong code keeps its places; anything else gives them back."""
        keys = getattr(request, _RESERVED, None)
        if not keys or wrong_code:
            return
        cls()._give_back_places(keys)

    def _give_back_places(self, keys: list[str]) -> None:
        try:
            self._give_back_all(keys)
        except Exception:  # noqa: BLE001 - see allow_request
            logger.warning("priority-code throttle: cache unavailable while giving places back", exc_info=True)


class RegistrationRateThrottle(UserRateThrottle):
    """The ``user`` rate on the registration endpoint, counted per API token for a token's
    requests: the fast path (``registrations.rush``) must count a request before the statement that
    finds its fan, so it knows the token, not the account. An account has one token, so this is
    still one count per account and credential; a fan who also registers through their browser
    session is counted there apart (so at most twice the rate across both)."""

    verdict: bool | None = None  # allow_token's, which allow_request then repeats

    @staticmethod
    def token_ident(key: str) -> str:
        """The cache key for a token (hashed: keys are listed in Redis, tokens are secrets)."""
        digest = hashlib.blake2b(key.encode(), digest_size=12).hexdigest()
        scope = RegistrationRateThrottle.scope
        return RegistrationRateThrottle.cache_format % {"scope": scope, "ident": f"token-{digest}"}

    def allow_token(self, key: str) -> bool:
        """Counts a call by the token ``key`` before its fan is known (the fast path). The full view
        may then be given this throttle: it repeats the verdict instead of counting the call again."""
        self.verdict = self.allow_ident(self.token_ident(key))
        return self.verdict

    def allow_request(self, request, view) -> bool:
        if self.verdict is not None:
            return self.verdict
        return super().allow_request(request, view)

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, str):  # registrations.authentication: the token's key
            return self.token_ident(request.auth)
        return super().get_cache_key(request, view)
