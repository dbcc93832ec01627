"""The session page shows the mode, the draw's window, time and seed hash, the fan's entry, and an
offer with its deadline and one-click answers (issue 14, point 8)."""

import datetime as dt

import pytest
from django.utils import timezone

from events.models import Session
from registrations import draws, services
from tests.factories import SessionFactory, UserFactory
from tests.frontend.test_pages import client_for

pytestmark = pytest.mark.django_db


def test_a_draw_sessions_page_shows_the_draw_and_the_fans_entry():
    now = timezone.now()
    session = SessionFactory(
        capacity=2, max_party_size=2, allocation=Session.Allocation.DRAW,
        entry_opens_at=now - dt.timedelta(hours=1), entry_closes_at=now + dt.timedelta(hours=1),
    )  # fmt: skip
    fan = UserFactory(email_verified_at=now)
    page = client_for(fan).get(f"/sessions/{session.id}/").content.decode()
    assert "Seats are drawn" in page and "Enter the draw" in page and 'name="party_size"' in page
    entry, _ = services.registration_get_or_create(session_id=session.id, fan=fan)
    page = client_for(fan).get(f"/sessions/{session.id}/").content.decode()
    assert "You entered the draw" in page and entry.entry_ref in page
    assert session.draw.seed_sha256 in page
    Session.objects.filter(id=session.id).update(entry_closes_at=now - dt.timedelta(seconds=1))
    draws.draw_run(session_id=session.id)
    page = client_for(fan).get(f"/sessions/{session.id}/").content.decode()
    assert f"/api/sessions/{session.id}/draw/order/" in page
    assert "You're registered" in page


def test_an_offer_shows_its_deadline_and_the_answers():
    session = SessionFactory(capacity=1, offer_hold_minutes=60)
    seated = services.registration_create(session=session, fan=UserFactory())
    waiting = services.registration_create(session=session, fan=UserFactory())
    services.registration_cancel(registration=seated)
    page = client_for(waiting.fan).get(f"/sessions/{session.id}/").content.decode()
    assert "A seat is offered to you" in page
    assert f"/api/registrations/{waiting.id}/accept/" in page and f"/api/registrations/{waiting.id}/decline/" in page


def open_one_seat_draw(organization, *, now: dt.datetime) -> Session:
    """A one-seat draw of the organization's, its entries open for the hour around ``now``."""
    from tests.factories import SeriesFactory

    return SessionFactory(
        series=SeriesFactory(organization=organization), capacity=1, allocation=Session.Allocation.DRAW,
        entry_opens_at=now - dt.timedelta(hours=1), entry_closes_at=now + dt.timedelta(hours=1),
    )  # fmt: skip


def test_the_organizers_roster_shows_entries_weights_and_the_result(organization):
    from tests.factories import PriorityCodeFactory, organizer_of

    now = timezone.now()
    session = open_one_seat_draw(organization, now=now)
    code = PriorityCodeFactory(series=session.series, weight=4)
    fans = [UserFactory(email_verified_at=now) for _ in range(2)]
    entry, _ = services.registration_get_or_create(session_id=session.id, fan=fans[0], priority_code=code.code)
    services.registration_get_or_create(session_id=session.id, fan=fans[1])
    page = client_for(organizer_of(organization)).get(f"/plan/sessions/{session.id}/roster/").content.decode()
    assert entry.entry_ref in page and code.code in page and "<td>4</td>" in page
    Session.objects.filter(id=session.id).update(entry_closes_at=now - dt.timedelta(seconds=1))
    draws.draw_run(session_id=session.id)
    page = client_for(organizer_of(organization)).get(f"/plan/sessions/{session.id}/roster/").content.decode()
    assert f"/api/sessions/{session.id}/draw/order/" in page and "Waitlist (1)" in page


def test_the_roster_runs_the_draw_once_the_entries_closed_and_only_for_organizers(organization):
    from tests.factories import host_of, organizer_of

    now = timezone.now()
    session = open_one_seat_draw(organization, now=now)
    services.registration_get_or_create(session_id=session.id, fan=UserFactory(email_verified_at=now))
    organizer, host = organizer_of(organization), host_of(organization)
    session.hosts.add(host)
    run = f"/plan/sessions/{session.id}/draw/"
    roster = f"/plan/sessions/{session.id}/roster/"
    assert "Run the draw now" not in client_for(organizer).get(roster).content.decode()  # entries still open
    page = client_for(organizer).post(run, follow=True).content.decode()
    assert "The draw runs once the entries have closed." in page

    Session.objects.filter(id=session.id).update(entry_closes_at=now - dt.timedelta(seconds=1))
    assert "Run the draw now" in client_for(organizer).get(roster).content.decode()
    assert client_for(host).post(run).status_code == 403  # hosts run the door, not the draw
    page = client_for(organizer).post(run, follow=True).content.decode()
    assert "The draw has run: 1 confirmed, 0 on the waitlist" in page
    assert "Run the draw now" not in page and f"/api/sessions/{session.id}/draw/order/" in page
    page = client_for(organizer).post(run, follow=True).content.decode()
    assert "This draw has already run." in page


def test_a_first_come_sessions_page_says_so():
    page = client_for(None).get(f"/sessions/{SessionFactory().id}/").content.decode()
    assert "First come, first served" in page
