"""Many fans in the same second, with real threads: each thread has its own database connection
and its own transactions (``transaction=True``), as requests in several server workers would.

PostgreSQL's connection limit here is 100 and shared, so at most ``tests.concurrency.MAX_CONNECTIONS`` threads hold a
connection at once: all threads are released together by a barrier, then queue for a connection
slot, and each one closes its connection when it is done.
"""

from collections import Counter

import pytest
from django.db import connection

from accounts.models import User
from events.models import Session
from registrations import services
from registrations.models import PriorityCode, Registration
from tests.concurrency import run_concurrently
from tests.conftest import client_for
from tests.factories import PriorityCodeFactory, SessionFactory, UserFactory


def make_fans(n):
    users = User.objects.bulk_create([User(username=f"rush{i}", email=f"rush{i}@example.com") for i in range(n)])
    return list(User.objects.filter(id__in=[u.id for u in users]).order_by("id"))


def register_job(session_id, fan):
    def job():
        response = client_for(fan).post(f"/api/sessions/{session_id}/registrations/", {}, format="json")
        return response.status_code, response.json()

    return job


def cancel_job(registration):
    def job():
        response = client_for(registration.fan).delete(f"/api/registrations/{registration.id}/")
        return response.status_code, None

    return job


def assert_seat_invariants(session: Session):
    """Capacity never exceeded; counters true; waitlist gapless 1..N in arrival (id) order; and every
    confirmed fan arrived before every waitlisted one (seats go to the front of the queue)."""
    session.refresh_from_db()
    regs = list(Registration.objects.filter(session=session).order_by("id"))
    confirmed = [r for r in regs if r.status == Registration.Status.CONFIRMED]
    waitlisted = [r for r in regs if r.status == Registration.Status.WAITLISTED]
    assert len(confirmed) <= session.capacity
    assert session.confirmed_count == len(confirmed)
    assert session.waitlist_count == len(waitlisted)
    if waitlisted:
        assert len(confirmed) == session.capacity  # nobody waits while a seat is free
        assert [r.waitlist_position for r in waitlisted] == list(range(1, len(waitlisted) + 1))
        assert max(r.id for r in confirmed) < min(r.id for r in waitlisted)
    fans = Counter(r.fan_id for r in regs)
    assert max(fans.values(), default=1) == 1  # no duplicates
    return confirmed, waitlisted


def skip_unless_postgres():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL concurrency test (set DATABASE_URL)")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_240_concurrent_registrations_fill_30_seats_exactly_and_queue_the_rest_in_order():
    skip_unless_postgres()
    session = SessionFactory(capacity=30)
    fans = make_fans(240)
    # 20 fans press the button twice at the same moment.
    jobs = [register_job(session.id, fan) for fan in fans] + [register_job(session.id, fan) for fan in fans[:20]]
    results = run_concurrently(jobs)
    assert all(isinstance(r, tuple) for r in results), [r for r in results if not isinstance(r, tuple)][:3]
    statuses = Counter(code for code, _ in results)
    assert statuses == {201: 240, 200: 20}
    confirmed, waitlisted = assert_seat_invariants(session)
    assert len(confirmed) == 30
    assert len(waitlisted) == 210
    # Each answer agrees with the database.
    by_id = {r.id: r for r in confirmed + waitlisted}
    for _, body in results:
        assert body["status"] == by_id[body["id"]].status


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_registrations_mixed_with_cancellations_keep_the_invariants():
    skip_unless_postgres()
    session = SessionFactory(capacity=30)
    early = [services.registration_create(session=session, fan=fan) for fan in make_fans(60)]
    for registration in early:
        registration.fan = registration.fan  # loaded, for the cancel job's client
    leaving = early[::3]  # 20 fans leave: 10 confirmed, 10 waitlisted
    newcomers = UserFactory.create_batch(200)
    jobs = [register_job(session.id, fan) for fan in newcomers] + [cancel_job(r) for r in leaving]
    results = run_concurrently(jobs)
    assert all(isinstance(r, tuple) for r in results), [r for r in results if not isinstance(r, tuple)][:3]
    assert Counter(code for code, _ in results) == {201: 200, 204: 20}
    confirmed, waitlisted = assert_seat_invariants(session)
    assert len(confirmed) == 30
    assert len(waitlisted) == 60 - 20 + 200 - 30
    assert not ({r.id for r in leaving} & {r.id for r in confirmed + waitlisted})


@pytest.mark.django_db(transaction=True)
def test_burst_of_registrations_on_the_default_database_gets_correct_answers_and_no_errors():
    """On SQLite writers queue on the IMMEDIATE lock and the busy timeout: slower, never
    "database is locked", never a 500. (On PostgreSQL this runs too, as a smaller rush.)"""
    session = SessionFactory(capacity=10)
    fans = make_fans(40)
    results = run_concurrently([register_job(session.id, fan) for fan in fans], max_connections=40)
    errors = [r for r in results if not isinstance(r, tuple)]
    assert not errors, errors[:3]
    assert Counter(code for code, _ in results) == {201: 40}
    confirmed, waitlisted = assert_seat_invariants(session)
    assert (len(confirmed), len(waitlisted)) == (10, 30)


@pytest.mark.django_db(transaction=True)
def test_two_fans_racing_for_the_last_use_of_a_code_exactly_one_wins():
    """The fans register for different sessions of the series, so only the code's conditional
    UPDATE stands between them."""
    import datetime as dt

    from django.utils import timezone

    now = timezone.now()
    first = SessionFactory(registration_opens_at=now + dt.timedelta(days=1), priority_opens_at=now)
    sessions = [first] + [
        SessionFactory(series=first.series, registration_opens_at=first.registration_opens_at, priority_opens_at=now)
        for _ in range(9)
    ]
    code = PriorityCodeFactory(series=first.series, max_uses=1)
    fans = make_fans(10)

    def job(session, fan):
        def run():
            response = client_for(fan).post(
                f"/api/sessions/{session.id}/registrations/", {"priority_code": code.code}, format="json"
            )
            return response.status_code, response.json()

        return run

    results = run_concurrently([job(s, f) for s, f in zip(sessions, fans, strict=True)])
    assert Counter(r[0] for r in results) == {201: 1, 400: 9}
    assert {r[1]["code"] for r in results if r[0] == 400} == {"invalid_code"}
    assert PriorityCode.objects.get(id=code.id).uses == 1
    assert Registration.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_scanners_at_once_check_a_fan_in_exactly_once(organization, host):
    from tests.factories import SeriesFactory

    session = SessionFactory(series=SeriesFactory(organization=organization), hosts=[host])
    registration = services.registration_create(session=session, fan=UserFactory())

    def scan():
        response = client_for(host).post(
            f"/api/sessions/{session.id}/checkin/", {"checkin_code": registration.checkin_code}
        )
        return response.status_code, response.json()

    results = run_concurrently([scan for _ in range(6)])
    assert Counter(r[0] for r in results) == {200: 1, 409: 5}
    assert {r[1]["code"] for r in results if r[0] == 409} == {"already_checked_in"}


@pytest.mark.django_db(transaction=True)
def test_fan_re_registering_twice_at_once_after_cancelling_gets_one_place():
    session = SessionFactory(capacity=5)
    fan = make_fans(1)[0]
    registration = services.registration_create(session=session, fan=fan)
    services.registration_cancel(registration=registration)
    results = run_concurrently([register_job(session.id, fan) for _ in range(6)])
    assert all(isinstance(r, tuple) for r in results), results
    assert {code for code, _ in results} <= {200, 201}
    assert {body["id"] for _, body in results} == {registration.id}
    confirmed, waitlisted = assert_seat_invariants(session)
    assert (len(confirmed), len(waitlisted)) == (1, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_first_time_statement_takes_nothing_for_a_fan_who_is_already_registered():
    skip_unless_postgres()
    session = SessionFactory(capacity=5)
    fan = make_fans(1)[0]
    first = services.registration_create(session=session, fan=fan)
    assert services._register_first_time(session_id=session.id, fan=fan) is None
    session.refresh_from_db()
    assert (session.confirmed_count, session.waitlist_count) == (1, 0)
    assert list(Registration.objects.filter(session=session).values_list("id", flat=True)) == [first.id]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_first_time_statement_takes_nothing_when_the_fans_other_request_inserts_first():
    """The same fan's other request holds its new row, not yet committed: the statement waits on the
    unique (session, fan) index, then takes no place once that row is committed."""
    import threading

    from django.db import transaction

    skip_unless_postgres()
    session = SessionFactory(capacity=5)
    fan = make_fans(1)[0]
    inserted, release = threading.Event(), threading.Event()

    def other_request_holding_an_uncommitted_row():
        try:
            with transaction.atomic():
                Registration.objects.create(session=session, fan=fan, status=Registration.Status.CONFIRMED)
                inserted.set()
                release.wait(10)
        finally:
            connection.close()

    other = threading.Thread(target=other_request_holding_an_uncommitted_row)
    other.start()
    assert inserted.wait(10)
    threading.Timer(0.3, release.set).start()  # commits while this statement waits on the index
    assert services._register_first_time(session_id=session.id, fan=fan) is None
    other.join(10)
    session.refresh_from_db()
    assert (session.confirmed_count, session.waitlist_count) == (0, 0)
    assert Registration.objects.filter(session=session).count() == 1


@pytest.mark.django_db(transaction=True)
def test_answers_to_a_committed_registration_are_what_the_database_holds():
    """Confirmed and waitlisted answers (checkin_code only when confirmed) equal the stored rows."""
    from registrations.serializers import registration_payload

    session = SessionFactory(capacity=1)
    for fan, expected in zip(make_fans(2), ("confirmed", "waitlisted"), strict=True):
        status_code, body = register_job(session.id, fan)()
        assert status_code == 201
        stored = Registration.objects.get(id=body["id"])
        assert body == registration_payload(stored)
        assert body["status"] == expected
        assert stored.checkin_code  # every row has one; the API shows it only when confirmed
    assert body["waitlist_position"] == 1 and body["checkin_code"] is None


@pytest.mark.django_db(transaction=True)
def test_committed_registration_behind_seats_freed_without_a_fill_ends_with_the_queue_filled():
    session = SessionFactory(capacity=1)
    fans = make_fans(3)
    first, second = (register_job(session.id, fan)()[1] for fan in fans[:2])
    Session.objects.filter(id=session.id).update(capacity=2)  # not through the services: no fill
    status_code, body = register_job(session.id, fans[2])()
    assert status_code == 201
    assert (body["status"], body["waitlist_position"]) == ("waitlisted", 1)
    assert Registration.objects.get(id=second["id"]).status == Registration.Status.CONFIRMED
    confirmed, waitlisted = assert_seat_invariants(session)
    assert [r.id for r in waitlisted] == [body["id"]]


@pytest.mark.throttled
@pytest.mark.django_db(transaction=True)
def test_parallel_wrong_code_guesses_get_exactly_the_limit_of_evaluations(monkeypatch):
    """The throttle takes a place before the code is looked at, atomically in the cache (Redis on
    the PostgreSQL run): 80 wrong guesses at once from one fan get exactly 10 answers, the rest 429."""
    import datetime as dt

    from django.core.cache import cache
    from django.utils import timezone
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "priority_code", "10/hour")
    monkeypatch.setitem(SimpleRateThrottle.THROTTLE_RATES, "user", None)
    cache.clear()
    now = timezone.now()
    session = SessionFactory(
        registration_opens_at=now + dt.timedelta(days=1), priority_opens_at=now - dt.timedelta(hours=1)
    )
    PriorityCodeFactory(series=session.series, code="THE-RIGHT-ONE")
    guesser = UserFactory()

    def guess(i):
        def job():
            response = client_for(guesser).post(
                f"/api/sessions/{session.id}/registrations/", {"priority_code": f"WRONG{i}"}, format="json"
            )
            return response.status_code

        return job

    statuses = Counter(run_concurrently([guess(i) for i in range(80)]))
    assert statuses == {400: 10, 429: 70}
    # Another fan behind the same address, with the right code, gets in.
    response = client_for(UserFactory()).post(
        f"/api/sessions/{session.id}/registrations/", {"priority_code": "THE-RIGHT-ONE"}, format="json"
    )
    assert response.status_code == 201
