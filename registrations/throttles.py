"""Throttling of priority-code guesses: only failed guesses count, per account and per address."""

from rest_framework.throttling import SimpleRateThrottle


class InvalidCodeThrottle(SimpleRateThrottle):
    """Refuses (429) a request that carries a priority code once the account or the address behind
    it has made ``priority_code`` failed guesses in the window. Valid codes and requests without a
    code are never counted, so a fan who types their code right is never slowed down.

    The rate is the ``priority_code`` scope of DEFAULT_THROTTLE_RATES (env THROTTLE_PRIORITY_CODE;
    empty lifts it). Histories live in the default cache: use Redis with several workers.
    """

    scope = "priority_code"

    def _keys(self, request) -> list[str]:
        keys = [self.cache_format % {"scope": self.scope, "ident": f"ip-{self.get_ident(request)}"}]
        if request.user and request.user.is_authenticated:
            keys.append(self.cache_format % {"scope": self.scope, "ident": f"user-{request.user.pk}"})
        return keys

    def get_cache_key(self, request, view):  # one key is not enough here; see _keys
        return None

    def allow_request(self, request, view) -> bool:
        if self.rate is None:
            return True
        data = request.data
        if not (hasattr(data, "get") and data.get("priority_code")):
            return True
        self.now = self.timer()
        for key in self._keys(request):
            history = [t for t in self.cache.get(key, []) if t > self.now - self.duration]
            if len(history) >= self.num_requests:
                self.history = history
                return False
        return True

    def record_failure(self, request) -> None:
        if self.rate is None:
            return
        now = self.timer()
        for key in self._keys(request):
            history = [t for t in self.cache.get(key, []) if t > now - self.duration]
            history.insert(0, now)
            self.cache.set(key, history, self.duration)
