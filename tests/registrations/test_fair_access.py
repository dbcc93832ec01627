"""Parties, waitlist positions and offers that expire (issue 14; API.md "Fair access")."""

import datetime as dt

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from events.models import Session
from registrations import services, waitlist
from registrations.models import Registration
from tests.conftest import client_for
from tests.factories import SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def register(session, size=1, **extra):
    return services.registration_create(session=session, fan=UserFactory(), party_size=size, **extra)


def counters(session):
    session.refresh_from_db()
    return session.confirmed_count, session.offered_count, session.waitlist_count


def assert_counters_true(session):
    """The row's counters are the registrations' people, and never oversold."""
    session.refresh_from_db()
    rows = waitlist.counters_from_rows(session)
    assert (session.confirmed_count, session.offered_count, session.waitlist_count) == (
        rows["confirmed"], rows["offered"], rows["waitlisted"],
    )  # fmt: skip
    assert session.confirmed_count + session.offered_count <= session.capacity
    waiting = Registration.objects.filter(session=session, status="waitlisted").order_by("waitlist_ticket")
    assert [r.waitlist_position for r in waiting] == list(range(1, waiting.count() + 1))
    assert session.waitlist_parties == waiting.count()


def status(registration):
    registration.refresh_from_db()
    registration.forget_waitlist_position()
    return registration.status


# --- parties -------------------------------------------------------------------------------------


def test_a_party_takes_seats_by_people_and_the_api_shows_it():
    session = SessionFactory(capacity=5, max_party_size=4)
    fan = UserFactory()
    response = client_for(fan).post(
        f"/api/sessions/{session.id}/registrations/", {"party_size": 3, "companions": ["Li", "Wang"]}
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert (body["status"], body["party_size"], body["companions"]) == ("confirmed", 3, ["Li", "Wang"])
    assert counters(session) == (3, 0, 0)
    assert client_for(UserFactory()).get(f"/api/sessions/{session.id}/").json()["seats_left"] == 2
    assert register(session, 3).status == "waitlisted"  # 3 do not fit in 2: nobody is split
    assert_counters_true(session)


def test_a_party_larger_than_the_session_allows_is_refused():
    session = SessionFactory(capacity=30, max_party_size=2)
    response = client_for(UserFactory()).post(f"/api/sessions/{session.id}/registrations/", {"party_size": 3})
    assert response.status_code == 400
    assert response.json()["code"] == "party_too_large"
    default = SessionFactory(capacity=30)  # max_party_size defaults to 1: today's behaviour
    response = client_for(UserFactory()).post(f"/api/sessions/{default.id}/registrations/", {"companions": ["Li"]})
    assert response.json()["code"] == "party_too_large"
    assert not Registration.objects.exists()


def test_the_first_waitlisted_party_that_fits_is_served_and_a_larger_one_keeps_its_place():
    session = SessionFactory(capacity=4, max_party_size=3)
    big_seated, single_seated = register(session, 3), register(session, 1)
    big_waiting, small_waiting = register(session, 3), register(session, 1)
    assert (big_waiting.waitlist_position, small_waiting.waitlist_position) == (1, 2)
    services.registration_cancel(registration=single_seated)  # one seat free: the party of 3 does not fit
    assert status(big_waiting) == "waitlisted" and big_waiting.waitlist_position == 1
    assert status(small_waiting) == "confirmed"
    services.registration_cancel(registration=big_seated)  # three free: now it fits
    assert status(big_waiting) == "confirmed"
    assert_counters_true(session)


def test_reducing_a_party_frees_seats_for_the_waitlist_and_never_grows_it():
    session = SessionFactory(capacity=3, max_party_size=3)
    party, waiting = register(session, 3), register(session, 1)
    client = client_for(party.fan)
    response = client.patch(f"/api/registrations/{party.id}/", {"party_size": 2})
    assert response.status_code == 200, response.content
    assert response.json()["party_size"] == 2
    assert status(waiting) == "confirmed"
    response = client.patch(f"/api/registrations/{party.id}/", {"party_size": 3})
    assert response.status_code == 400
    assert response.json()["code"] == "party_too_large"
    assert_counters_true(session)


# --- positions -----------------------------------------------------------------------------------


def test_leaving_the_waitlist_rewrites_no_other_registration_and_positions_stay_gapless():
    session = SessionFactory(capacity=1)
    register(session)
    waiting = [register(session) for _ in range(6)]
    with CaptureQueriesContext(connection) as ctx:
        services.registration_cancel(registration=waiting[2])
    registration_updates = [
        q["sql"] for q in ctx.captured_queries if q["sql"].startswith('UPDATE "registrations_registration"')
    ]
    assert len(registration_updates) == 1  # the leaver's own row: the others keep their tickets
    assert [status(r) for r in waiting].count("waitlisted") == 5
    assert [r.waitlist_position for r in waiting if r.status == "waitlisted"] == [1, 2, 3, 4, 5]
    me = client_for(waiting[5].fan).get(f"/api/registrations/{waiting[5].id}/").json()
    assert me["waitlist_position"] == 5
    listed = client_for(waiting[5].fan).get("/api/me/registrations/").json()["results"]
    assert [r["waitlist_position"] for r in listed] == [5]
    assert_counters_true(session)


def test_the_database_refuses_more_confirmed_and_offered_people_than_seats():
    session = SessionFactory(capacity=2)
    with pytest.raises(IntegrityError), transaction.atomic():
        Session.objects.filter(id=session.id).update(confirmed_count=1, offered_count=2)


# --- offers --------------------------------------------------------------------------------------


@pytest.fixture
def held():
    """A full session whose freed seats are offered for an hour; two parties wait."""
    session = SessionFactory(capacity=2, max_party_size=2, offer_hold_minutes=60)
    seated = [register(session), register(session)]
    waiting = [register(session), register(session)]
    return session, seated, waiting


def test_a_freed_seat_is_offered_to_the_head_of_the_waitlist_and_accepted_in_one_click(held):
    session, seated, waiting = held
    services.registration_cancel(registration=seated[0])
    assert status(waiting[0]) == "offered"
    assert waiting[0].offer_expires_at is not None
    assert counters(session) == (1, 1, 1)
    client = client_for(UserFactory()).get(f"/api/sessions/{session.id}/").json()
    assert client["seats_left"] == 0  # held by the offer
    response = client_for(waiting[0].fan).post(f"/api/registrations/{waiting[0].id}/accept/")
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "confirmed"
    assert response.json()["offer_expires_at"] is None
    assert counters(session) == (2, 0, 1)
    assert_counters_true(session)


def test_declining_passes_the_offer_on(held):
    session, seated, waiting = held
    services.registration_cancel(registration=seated[0])
    response = client_for(waiting[0].fan).post(f"/api/registrations/{waiting[0].id}/decline/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert status(waiting[1]) == "offered"
    assert_counters_true(session)


def test_an_unanswered_offer_expires_by_its_job_and_passes_on(held, run_jobs):
    session, seated, waiting = held
    services.registration_cancel(registration=seated[0])
    run_jobs()  # not due yet: nothing happens
    assert status(waiting[0]) == "offered"
    Registration.objects.filter(id=waiting[0].id).update(offer_expires_at=timezone.now() - dt.timedelta(seconds=1))
    from django_tasks_db.models import DBTaskResult

    DBTaskResult.objects.update(run_after=timezone.now() - dt.timedelta(seconds=1))
    run_jobs()
    assert status(waiting[0]) == "cancelled"
    assert status(waiting[1]) == "offered"
    response = client_for(waiting[0].fan).post(f"/api/registrations/{waiting[0].id}/accept/")
    assert response.status_code == 409
    assert response.json()["code"] == "offer_expired"
    assert_counters_true(session)


def test_an_offer_past_its_deadline_cannot_be_accepted_even_before_its_job_ran(held):
    session, seated, waiting = held
    services.registration_cancel(registration=seated[0])
    Registration.objects.filter(id=waiting[0].id).update(offer_expires_at=timezone.now() - dt.timedelta(seconds=1))
    response = client_for(waiting[0].fan).post(f"/api/registrations/{waiting[0].id}/accept/")
    assert response.status_code == 409
    assert response.json()["code"] == "offer_expired"


def test_the_hold_shrinks_as_the_start_nears_but_never_under_15_minutes():
    now = timezone.now()
    session = Session(offer_hold_minutes=240, starts_at=now + dt.timedelta(hours=30))
    assert waitlist.offer_hold(session, now) == dt.timedelta(hours=4)
    session.starts_at = now + dt.timedelta(hours=3)
    assert waitlist.offer_hold(session, now) == dt.timedelta(hours=1)  # a third of the time left
    session.starts_at = now + dt.timedelta(minutes=30)
    assert waitlist.offer_hold(session, now) == dt.timedelta(minutes=15)


def test_after_the_offer_cutoff_freed_seats_go_to_whoever_asks():
    session = SessionFactory(
        capacity=1,
        offer_hold_minutes=60,
        offer_cutoff_minutes=120,
        starts_at=timezone.now() + dt.timedelta(hours=1),
        registration_closes_at=None,
    )
    seated, waiting = register(session), register(session)
    services.registration_cancel(registration=seated)
    assert status(waiting) == "waitlisted"  # no offer: too late to answer one
    newcomer = register(session)
    assert newcomer.status == "confirmed"  # first come
    assert_counters_true(session)


def test_without_a_hold_promotion_stays_immediate():
    session = SessionFactory(capacity=1)
    seated, waiting = register(session), register(session)
    services.registration_cancel(registration=seated)
    assert status(waiting) == "confirmed"
    assert_counters_true(session)
