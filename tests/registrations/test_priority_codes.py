import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from events.models import Session
from registrations import services
from registrations.models import PriorityCode, Registration
from tests.conftest import client_for
from tests.factories import (
    OrganizationFactory,
    PriorityCodeFactory,
    SeriesFactory,
    SessionFactory,
    UserFactory,
    organizer_of,
)

pytestmark = pytest.mark.django_db


def priority_window_session(**kwargs):
    """General registration opens tomorrow; the priority window is open now."""
    now = timezone.now()
    return SessionFactory(
        registration_opens_at=now + dt.timedelta(days=1),
        priority_opens_at=now - dt.timedelta(hours=1),
        **kwargs,
    )


def register(user, session, **body):
    return client_for(user).post(f"/api/sessions/{session.id}/registrations/", body, format="json")


def test_code_holder_registers_in_the_priority_window_and_the_use_is_counted(fan):
    session = priority_window_session()
    code = PriorityCodeFactory(series=session.series, max_uses=2)
    response = register(fan, session, priority_code=code.code.lower())  # codes are case-insensitive
    assert response.status_code == 201
    code.refresh_from_db()
    assert code.uses == 1
    assert Registration.objects.get(id=response.json()["id"]).priority_code_id == code.id


def test_without_a_code_the_priority_window_is_closed(fan):
    session = priority_window_session()
    response = register(fan, session)
    assert response.status_code == 409
    assert response.json()["code"] == "closed"


def test_before_the_priority_window_even_code_holders_wait(fan):
    now = timezone.now()
    session = SessionFactory(
        registration_opens_at=now + dt.timedelta(days=2), priority_opens_at=now + dt.timedelta(days=1)
    )
    code = PriorityCodeFactory(series=session.series)
    response = register(fan, session, priority_code=code.code)
    assert response.status_code == 409
    assert response.json()["code"] == "closed"
    code.refresh_from_db()
    assert code.uses == 0


@pytest.mark.parametrize("problem", ["unknown", "used_up", "expired", "other_series", "other_session"])
def test_bad_or_used_up_code_is_400_invalid_code_and_nothing_changes(fan, problem):
    session = priority_window_session()
    code = PriorityCodeFactory(series=session.series)
    if problem == "unknown":
        code.code = "NOPE-NOPE"
    elif problem == "used_up":
        PriorityCode.objects.filter(id=code.id).update(uses=1)
    elif problem == "expired":
        PriorityCode.objects.filter(id=code.id).update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    elif problem == "other_series":
        PriorityCode.objects.filter(id=code.id).update(series=SeriesFactory(organization=session.series.organization))
    elif problem == "other_session":
        other = SessionFactory(series=session.series)
        PriorityCode.objects.filter(id=code.id).update(series=None, session=other)
    response = register(fan, session, priority_code=code.code)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_code"
    assert "priority_code" in response.json()["fields"]
    assert not Registration.objects.exists()
    session.refresh_from_db()
    assert session.confirmed_count == 0


def test_session_code_works_for_its_session(fan):
    session = priority_window_session()
    code = PriorityCodeFactory(series=None, session=session, organization=session.series.organization)
    assert register(fan, session, priority_code=code.code).status_code == 201


def test_failed_registration_does_not_consume_the_code(fan):
    session = priority_window_session(capacity=0, waitlist_enabled=False)
    code = PriorityCodeFactory(series=session.series)
    response = register(fan, session, priority_code=code.code)
    assert response.json()["code"] == "full"
    code.refresh_from_db()
    assert code.uses == 0


@pytest.fixture
def private_throttle_cache(monkeypatch):
    """Throttle histories in a cache of this test's own: with Redis, the default cache is shared by
    the parallel test workers, and another worker's ``cache.clear()`` would wipe them mid-test."""
    from django.core.cache.backends.locmem import LocMemCache

    from registrations.throttles import InvalidCodeThrottle

    private = LocMemCache("priority-code-throttle-test", {})
    private.clear()
    monkeypatch.setattr(InvalidCodeThrottle, "cache", private)


@pytest.mark.throttled
@pytest.mark.usefixtures("private_throttle_cache")
def test_repeated_invalid_codes_from_one_account_get_429(fan, monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "priority_code", "3/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", None)
    session = priority_window_session()
    good = PriorityCodeFactory(series=session.series)
    statuses = [register(fan, session, priority_code=f"GUESS{i}").status_code for i in range(3)]
    assert statuses == [400, 400, 400]
    response = register(fan, session, priority_code=good.code)
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    assert "Retry-After" in response
    # A request without a code is not a guess and is not throttled.
    assert register(fan, session).json()["code"] == "closed"


@pytest.mark.throttled
@pytest.mark.usefixtures("private_throttle_cache")
def test_an_address_used_up_by_wrong_guesses_refuses_accounts_that_guessed_wrong(monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "priority_code", "3/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", None)
    session = priority_window_session()
    guesser = UserFactory()
    assert register(guesser, session, priority_code="GUESS0").status_code == 400
    for i in range(1, 3):
        assert register(UserFactory(), session, priority_code=f"GUESS{i}").status_code == 400
    # The address has had its 3 wrong guesses: an account that guessed wrong here waits, even
    # though it has used only one of its own 3.
    assert register(guesser, session, priority_code="GUESS8").status_code == 429
    # A newcomer's first code is still looked at (it may be right); its wrong guess then counts.
    newcomer = UserFactory()
    assert register(newcomer, session, priority_code="GUESS9").status_code == 400
    assert register(newcomer, session, priority_code="GUESS10").status_code == 429


@pytest.mark.throttled
@pytest.mark.usefixtures("private_throttle_cache")
def test_a_right_code_from_an_address_others_used_up_still_goes_through(monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "priority_code", "3/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", None)
    session = priority_window_session()
    code = PriorityCodeFactory(series=session.series)
    for i in range(5):
        register(UserFactory(), session, priority_code=f"GUESS{i}")
    assert register(UserFactory(), session, priority_code=code.code).status_code == 201


@pytest.mark.throttled
@pytest.mark.usefixtures("private_throttle_cache")
def test_a_right_code_gives_its_place_back(monkeypatch, fan):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "priority_code", "2/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", None)
    session = priority_window_session()
    code = PriorityCodeFactory(series=session.series)
    assert register(fan, session, priority_code="GUESS1").status_code == 400
    assert register(fan, session, priority_code=code.code).status_code == 201
    other = priority_window_session(series=session.series)
    # Only one wrong guess is on the account: one more is still looked at.
    assert register(fan, other, priority_code="GUESS2").status_code == 400
    assert register(fan, other, priority_code="GUESS3").status_code == 429


@pytest.mark.throttled
@pytest.mark.usefixtures("private_throttle_cache")
def test_valid_codes_are_not_counted_as_guesses(monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "priority_code", "2/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", None)
    session = priority_window_session()
    code = PriorityCodeFactory(series=session.series, max_uses=10)
    for _ in range(5):
        assert register(UserFactory(), session, priority_code=code.code).status_code == 201


@pytest.mark.throttled
@pytest.mark.usefixtures("private_throttle_cache")
def test_a_code_refused_by_the_fans_request_rate_is_not_counted_as_a_guess(monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "priority_code", "2/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", "2/day")
    session = priority_window_session()
    hasty = UserFactory()
    assert [register(hasty, session).status_code for _ in range(2)] == [409, 409]  # closed to the public
    refused = register(hasty, session, priority_code="GUESS0")
    assert (refused.status_code, refused.json()["code"]) == (429, "throttled")
    # The address has no wrong guess from it: another account's two wrong guesses are looked at.
    other = UserFactory()
    assert [register(other, session, priority_code=f"GUESS{i}").status_code for i in (1, 2)] == [400, 400]


@pytest.fixture
def throttle_redis(settings):
    """The production cache backend on a redis-server of this test's own (tests/project)."""
    from tests.project.test_redis_outage import RedisServer

    server = RedisServer()
    server.start()
    settings.REDIS_RETRY_SECONDS = 0.2
    settings.CACHES = {
        "default": {
            "BACKEND": "project.cache.FailOpenRedisCache",
            "LOCATION": server.url,
            "KEY_PREFIX": "priority-code-test",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    yield server
    if server.process is not None and server.process.poll() is None:
        server.kill()


def redis_calls(server) -> dict[str, int]:
    import redis

    client = redis.Redis.from_url(server.url)
    try:
        stats = client.info("commandstats")
    finally:
        client.close()
    return {name.removeprefix("cmdstat_"): int(figures["calls"]) for name, figures in stats.items()}


@pytest.mark.throttled
def test_on_redis_both_places_are_taken_in_one_transaction_and_given_back_in_one_script(monkeypatch, throttle_redis):
    """The account's and the address's counters never move apart (see InvalidCodeThrottle): each
    guess is one MULTI, each give-back one script, and each window expires."""
    import redis
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "priority_code", "2/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", None)
    session = priority_window_session()
    code = PriorityCodeFactory(series=session.series)
    fan = UserFactory()
    statuses = [register(fan, session, priority_code=f"GUESS{i}").status_code for i in range(3)]
    statuses.append(register(UserFactory(), session, priority_code=code.code).status_code)
    assert statuses == [400, 400, 429, 201]
    calls = redis_calls(throttle_redis)
    assert calls["multi"] == calls["exec"] == 4  # one per request carrying a code
    assert calls["eval"] == 2  # the refused guess and the right code gave their places back
    client = redis.Redis.from_url(throttle_redis.url)
    counters = {key: int(client.get(key)) for key in client.keys("*throttle_priority_code_*")}
    assert sorted(counters.values()) == [0, 2, 2]  # the fan, the address, the right code's account
    assert all(0 < client.ttl(key) <= 60 for key in counters)
    client.close()


@pytest.mark.throttled
def test_on_redis_a_place_given_back_after_its_window_ended_does_not_revive_it(throttle_redis):
    from django.core.cache import caches

    cache = caches["default"]
    assert cache.take_places(["ended", "running"], 60) == [1, 1]
    cache.delete("ended")  # its window ended
    cache.give_back_places(["ended", "running"])
    assert cache.get("ended") is None
    assert cache.get("running") == 0


@pytest.mark.throttled
def test_with_redis_gone_codes_are_looked_at_unthrottled(monkeypatch, throttle_redis):
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "priority_code", "1/min")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", None)
    session = priority_window_session()
    code = PriorityCodeFactory(series=session.series)
    fan = UserFactory()
    throttle_redis.kill()
    assert [register(fan, session, priority_code=f"GUESS{i}").status_code for i in range(3)] == [400] * 3
    assert register(fan, session, priority_code=code.code).status_code == 201


# --- Organizer CRUD ---------------------------------------------------------------------------


@pytest.fixture
def series(organization):
    return SeriesFactory(organization=organization)


def test_organizer_creates_a_code_with_a_generated_value(organizer, series):
    response = client_for(organizer).post(
        "/api/priority-codes/", {"series": series.id, "max_uses": 3, "expires_at": "2030-01-01T00:00:00+08:00"}
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert len(body["code"]) == services.CODE_LENGTH
    assert body["uses"] == 0
    assert body["max_uses"] == 3
    assert body["series"] == series.id
    assert body["session"] is None


def test_organizer_chooses_a_code_and_duplicates_are_refused(organizer, series):
    client = client_for(organizer)
    assert client.post("/api/priority-codes/", {"series": series.id, "code": "luoyang-vip"}).json()["code"] == (
        "LUOYANG-VIP"
    )
    response = client.post("/api/priority-codes/", {"series": series.id, "code": "LUOYANG-VIP"})
    assert response.status_code == 400
    assert "code" in response.json()["fields"]


def test_code_needs_exactly_one_of_series_or_session(organizer, series):
    session = SessionFactory(series=series)
    client = client_for(organizer)
    assert client.post("/api/priority-codes/", {}).status_code == 400
    response = client.post("/api/priority-codes/", {"series": series.id, "session": session.id})
    assert response.status_code == 400


def test_fans_and_other_organizations_cannot_manage_codes(fan, series):
    assert client_for(fan).get("/api/priority-codes/").status_code == 403
    assert client_for(fan).post("/api/priority-codes/", {"series": series.id}).status_code == 403
    stranger = organizer_of(OrganizationFactory())
    response = client_for(stranger).post("/api/priority-codes/", {"series": series.id})
    assert response.status_code == 403
    mine = PriorityCodeFactory(series=series)
    assert client_for(stranger).get(f"/api/priority-codes/{mine.id}/").status_code == 404
    assert client_for(stranger).get("/api/priority-codes/").json()["count"] == 0


def test_organizer_batch_creates_500_codes_and_exports_them_as_csv(organizer, series, django_assert_max_num_queries):
    client = client_for(organizer)
    with django_assert_max_num_queries(12):
        response = client.post(
            "/api/priority-codes/batch/", {"series": series.id, "count": 500, "max_uses": 1, "prefix": "LY-"}
        )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["count"] == 500
    assert len(set(body["codes"])) == 500
    assert all(c.startswith("LY-") for c in body["codes"])
    export = client.get(f"/api/priority-codes/export/?batch={body['batch']}")
    assert export.status_code == 200
    assert export["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(export.content.decode())))
    assert len(rows) == 500
    assert {r["code"] for r in rows} == set(body["codes"])
    assert rows[0]["series"] == str(series.id)
    assert rows[0]["uses"] == "0"


def test_batch_count_is_bounded(organizer, series):
    response = client_for(organizer).post("/api/priority-codes/batch/", {"series": series.id, "count": 50000})
    assert response.status_code == 400
    assert not PriorityCode.objects.exists()


def test_max_uses_cannot_go_below_uses(organizer, series):
    code = PriorityCodeFactory(series=series, max_uses=5)
    PriorityCode.objects.filter(id=code.id).update(uses=3)
    client = client_for(organizer)
    response = client.patch(f"/api/priority-codes/{code.id}/", {"max_uses": 2})
    assert response.status_code == 400
    assert "max_uses" in response.json()["fields"]
    response = client.patch(f"/api/priority-codes/{code.id}/", {"max_uses": 4, "expires_at": None})
    assert response.status_code == 200
    assert response.json()["max_uses"] == 4


def test_deleting_a_code_keeps_the_seats_it_gave(organizer, series):
    session = priority_window_session(series=series)
    code = PriorityCodeFactory(series=series)
    registration = services.registration_create(session=session, fan=UserFactory(), priority_code=code.code)
    assert client_for(organizer).delete(f"/api/priority-codes/{code.id}/").status_code == 204
    registration.refresh_from_db()
    assert registration.status == Registration.Status.CONFIRMED
    assert registration.priority_code_id is None
    assert Session.objects.get(id=session.id).confirmed_count == 1
