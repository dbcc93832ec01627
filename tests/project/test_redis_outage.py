"""Redis goes away: rate limits and live figures degrade, registration, sign-in, lists and feeds do not.

Each test starts its own redis-server on a free port (never the shared one) and SIGKILLs it, with the
production cache backend, the real throttles (marked ``throttled``) and the Redis presence backend.
"""

import logging
import shutil
import signal
import subprocess
import time
import uuid

import pytest
import redis
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from events.models import Session
from project.redis_guard import guards_report
from streams import presence
from tests.factories import SessionFactory, StreamFactory, UserFactory

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.throttled,
    pytest.mark.skipif(shutil.which("redis-server") is None, reason="needs the redis-server binary"),
]


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RedisServer:
    """A throw-away redis-server on 127.0.0.1 that the test can kill and bring back on the same port."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        deadline = time.monotonic() + 10
        while True:
            try:
                client.ping()
                break
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        client.close()

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def keys(self) -> list[bytes]:
        client = redis.Redis.from_url(self.url, socket_timeout=1)
        try:
            return client.keys("*")
        finally:
            client.close()


@pytest.fixture
def own_redis(settings):
    server = RedisServer()
    server.start()
    settings.REDIS_URL = server.url
    settings.PRESENCE_REDIS_PREFIX = f"outage-test:{uuid.uuid4().hex}:presence"
    settings.REDIS_RETRY_SECONDS = 0.5
    settings.CACHES = {
        "default": {
            "BACKEND": "project.cache.FailOpenRedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": "outage-test",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    presence.reset_backend()
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()
    presence.reset_backend()


@pytest.fixture
def login_limit(monkeypatch):
    """Two sign-ins a minute per address, so that the limit is visible within a test."""
    rates = dict(SimpleRateThrottle.THROTTLE_RATES, login="2/min")
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


PASSWORD = "a-long-passphrase-9"  # noqa: S105 - a test account's


def sign_in(username: str, password: str = PASSWORD):
    return APIClient().post("/api/auth/token/", {"username": username, "password": password}, format="json")


def every_kind_of_call(fan, session, stream) -> dict[str, int]:
    """One call of each kind a fan or a page makes, by name -> HTTP status."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=fan)[0].key}")
    anonymous = APIClient()
    name = f"newfan{uuid.uuid4().hex[:8]}"
    signup = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
    return {
        "signup": anonymous.post("/api/auth/signup/", signup, format="json").status_code,
        "login": sign_in(name).status_code,
        "sessions list": anonymous.get("/api/sessions/").status_code,
        "session": anonymous.get(f"/api/sessions/{session.id}/").status_code,
        "register": client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json").status_code,
        "my registrations": client.get("/api/me/registrations/").status_code,
        "session feed": anonymous.get(f"/api/sessions/{session.id}/calendar.ics").status_code,
        "stream stats": anonymous.get(f"/api/streams/{stream.id}/stats/").status_code,
        "home page": anonymous.get("/").status_code,
        "session page": anonymous.get(f"/sessions/{session.id}/").status_code,
        "stream page": anonymous.get(f"/streams/{stream.id}/").status_code,
    }


EXPECTED = {
    "signup": 201,
    "login": 200,
    "sessions list": 200,
    "session": 200,
    "register": 201,
    "my registrations": 200,
    "session feed": 200,
    "stream stats": 200,
    "home page": 200,
    "session page": 200,
    "stream page": 200,
}


def test_with_redis_killed_registration_sign_in_lists_feeds_and_pages_keep_answering(own_redis, caplog):
    session = SessionFactory(capacity=50)
    stream = StreamFactory(session=SessionFactory(kind=Session.Kind.LIVESTREAM))
    assert every_kind_of_call(UserFactory(), session, stream) == EXPECTED
    assert any(b"throttle" in key for key in own_redis.keys())  # the throttles really counted in this Redis

    own_redis.kill()
    caplog.set_level(logging.INFO, logger="project.redis_guard")
    started = time.monotonic()
    for _ in range(3):
        assert every_kind_of_call(UserFactory(), session, stream) == EXPECTED
    elapsed = time.monotonic() - started
    assert elapsed < 15, elapsed  # one short timeout per REDIS_RETRY_SECONDS, not one per call

    stats = APIClient().get(f"/api/streams/{stream.id}/stats/").json()
    assert stats["stale"] is True  # live figures lose their freshness, and say so
    report = guards_report()
    assert report["cache"]["down"] is True
    # Every call that asked Redis failed open: at least signup's and login's rate limits, which are
    # always counted there (a large rate's first calls are decided in the process, no Redis asked).
    assert report["cache"]["misses"] >= 3 * 2
    assert report["live audience"]["misses"] >= 3
    outage_warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(outage_warnings) == 2, [r.getMessage() for r in outage_warnings]  # once for each use


def test_rate_limits_fail_open_while_redis_is_down_and_count_again_when_it_is_back(own_redis, login_limit, caplog):
    UserFactory(username="walker", password=PASSWORD)
    assert [sign_in("walker").status_code for _ in range(3)] == [200, 200, 429]

    own_redis.kill()
    assert [sign_in("walker").status_code for _ in range(5)] == [200] * 5  # no limit, no error

    own_redis.start()  # an empty Redis on the same port: the histories were lost with it
    caplog.set_level(logging.INFO, logger="project.redis_guard")
    time.sleep(0.6)  # REDIS_RETRY_SECONDS
    assert [sign_in("walker").status_code for _ in range(3)] == [200, 200, 429]
    assert any("is back" in r.getMessage() for r in caplog.records)
    assert guards_report()["cache"]["down"] is False


def test_without_the_guard_a_dead_redis_was_a_500(own_redis, settings):
    """The failure this guards against, seen once: Django's own Redis cache raises into every view."""
    settings.CACHES = dict(
        settings.CACHES, default=dict(settings.CACHES["default"], BACKEND="django.core.cache.backends.redis.RedisCache")
    )
    settings.THROTTLE_LOCAL_SHARE = 0  # every call's rate limit asks Redis
    own_redis.kill()
    client = APIClient(raise_request_exception=False)
    assert client.get("/api/sessions/").status_code == 500
