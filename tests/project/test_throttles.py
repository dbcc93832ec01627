"""The API's per-client rate limits (``anon`` and ``user``): counted in fixed windows, one cache
round trip per request, the same on the embedded default's local memory and on Redis."""

import time

import pytest
import redis
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from tests.factories import SessionFactory, UserFactory
from tests.project.test_redis_outage import RedisServer

pytestmark = [pytest.mark.django_db, pytest.mark.throttled]


@pytest.fixture
def three_a_minute(monkeypatch):
    rates = dict(SimpleRateThrottle.THROTTLE_RATES, anon="3/min", user="3/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.fixture
def redis_cache(settings):
    server = RedisServer()
    server.start()
    settings.CACHES = {
        "default": {
            "BACKEND": "project.cache.FailOpenRedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": "throttle-test",
        }
    }
    yield server
    server.kill()


def _wait_for_fresh_window(seconds: int = 60) -> None:
    """Windows are aligned on the clock: start a test well inside one, so four calls share it."""
    if time.time() % seconds > seconds - 5:
        time.sleep(seconds - time.time() % seconds + 0.1)


def _signed_in_client() -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=UserFactory()).key}")
    return client


def test_an_anonymous_client_gets_its_rate_then_429_with_retry_after(three_a_minute):
    _wait_for_fresh_window()
    client = APIClient()
    statuses = [client.get("/api/sessions/").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    refused = client.get("/api/sessions/")
    assert refused.json()["code"] == "throttled"
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_each_signed_in_fan_has_a_budget_of_their_own(three_a_minute):
    _wait_for_fresh_window()
    first, second = _signed_in_client(), _signed_in_client()
    assert [first.get("/api/me/registrations/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert second.get("/api/me/registrations/").status_code == 200


def test_on_redis_one_counter_per_client_and_window_that_expires(three_a_minute, redis_cache):
    _wait_for_fresh_window()
    session = SessionFactory()
    fan = _signed_in_client()
    statuses = [fan.post(f"/api/sessions/{session.id}/registrations/", {}).status_code for _ in range(4)]
    assert statuses[3] == 429
    client = redis.Redis.from_url(redis_cache.url)
    keys = [key for key in client.keys("*") if b"throttle_user" in key]
    assert len(keys) == 1
    assert int(client.get(keys[0])) == 4
    assert 0 < client.ttl(keys[0]) <= 61


def test_with_redis_gone_requests_go_through(three_a_minute, redis_cache, settings):
    settings.REDIS_RETRY_SECONDS = 0.2
    redis_cache.kill()
    client = APIClient()
    assert [client.get("/api/sessions/").status_code for _ in range(5)] == [200] * 5


@pytest.fixture
def two_hundred_a_minute(monkeypatch, settings):
    rates = dict(SimpleRateThrottle.THROTTLE_RATES, anon="200/min", user="200/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    settings.THROTTLE_LOCAL_SHARE = 0.05  # 10 calls a minute per process decided here
    settings.THROTTLE_LOCAL_MIN_RATE = 100


def test_a_large_rate_lets_a_process_decide_a_clients_first_calls_without_the_shared_counter(
    two_hundred_a_minute, redis_cache
):
    _wait_for_fresh_window()
    fan = _signed_in_client()
    client = redis.Redis.from_url(redis_cache.url)

    def shared_count() -> int:
        keys = [key for key in client.keys("*") if b"throttle_user" in key]
        return int(client.get(keys[0])) if keys else 0

    for _ in range(10):
        assert fan.get("/api/me/registrations/").status_code == 200
    assert shared_count() == 0
    assert fan.get("/api/me/registrations/").status_code == 200
    assert shared_count() == 11  # all it did here, counted at once
    fan.get("/api/me/registrations/")
    assert shared_count() == 12


def test_a_client_past_its_local_share_is_refused_at_the_shared_rate(two_hundred_a_minute):
    _wait_for_fresh_window()
    fan = _signed_in_client()
    statuses = [fan.get("/api/me/registrations/").status_code for _ in range(201)]
    assert statuses[:200] == [200] * 200
    assert statuses[200] == 429


def test_small_rates_are_always_counted_in_the_shared_window(settings):
    settings.THROTTLE_LOCAL_MIN_RATE = 100
    from project.throttles import local_allowance

    assert local_allowance(30) == 0 and local_allowance(60) == 0
    assert local_allowance(1200) == 60
