"""Rescheduling, cancelling and resizing a session that fans have registered for."""

import datetime as dt

import pytest
from django.db.models import F

from events import services
from events.models import Session
from project import formats
from project.errors import ApplicationError
from registrations.models import Registration
from tests.events.conftest import evening
from tests.factories import RegistrationFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def register(session: Session, *, confirmed: int = 0, waitlisted: int = 0, cancelled: int = 0) -> list[Registration]:
    """Registrations with the session's seat counters kept true (as registrations.services would)."""
    made = [RegistrationFactory(session=session, status=Registration.Status.CONFIRMED) for _ in range(confirmed)]
    made += [
        RegistrationFactory(session=session, status=Registration.Status.WAITLISTED, waitlist_position=n + 1)
        for n in range(waitlisted)
    ]
    made += [RegistrationFactory(session=session, status=Registration.Status.CANCELLED) for _ in range(cancelled)]
    Session.objects.filter(id=session.id).update(
        confirmed_count=F("confirmed_count") + confirmed,
        waitlist_count=F("waitlist_count") + waitlisted,
        waitlist_parties=F("waitlist_parties") + waitlisted,
        waitlist_seq=F("waitlist_seq") + waitlisted,
    )
    session.refresh_from_db()
    return made


@pytest.fixture
def booked(series, hall):
    return SessionFactory(series=series, venue=hall, capacity=2, starts_at=evening(days=20))


def test_moving_the_time_keeps_registrations_bumps_sequence_and_emails_every_active_fan(
    booked, organizer, mailoutbox, run_jobs
):
    regs = register(booked, confirmed=2, waitlisted=1, cancelled=1)
    new_start = booked.starts_at + dt.timedelta(days=1)
    moved = services.session_update(
        session=booked, data={"starts_at": new_start, "ends_at": new_start + dt.timedelta(hours=2)}, by=organizer
    )
    run_jobs()
    assert moved.sequence == 1
    assert Registration.objects.filter(session=booked).count() == 4
    assert sorted(m.to[0] for m in mailoutbox) == sorted(r.fan.email for r in regs[:3])
    message = mailoutbox[0]
    local_start = new_start.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert booked.title in message.subject
    assert formats.when(local_start, year=True, language="en") in message.body  # Fri 18 Dec 2026, 20:00
    assert "Academy Hall" in message.body
    assert f"/api/sessions/{booked.id}/calendar.ics" in message.body
    waitlisted_mail = next(m for m in mailoutbox if m.to == [regs[2].fan.email])
    assert "waitlist" in waitlisted_mail.body


def test_moving_the_venue_bumps_sequence_and_names_the_new_place(booked, gallery, organizer, mailoutbox, run_jobs):
    register(booked, confirmed=1)
    moved = services.session_update(session=booked, data={"venue": gallery}, by=organizer)
    run_jobs()
    assert moved.sequence == 1
    assert moved.city_id == gallery.city_id
    assert len(mailoutbox) == 1
    assert "798 Gallery" in mailoutbox[0].body
    assert "Beijing" in mailoutbox[0].body


def test_update_saves_only_changed_fields_and_updated_at(booked, organizer):
    before = booked.updated_at
    # Someone else changes the seat counter meanwhile: a full save would write it back.
    Session.objects.filter(id=booked.id).update(waitlist_count=7)
    new_start = booked.starts_at + dt.timedelta(hours=1)
    services.session_update(
        session=booked, data={"starts_at": new_start, "ends_at": new_start + dt.timedelta(hours=2)}, by=organizer
    )
    booked.refresh_from_db()
    assert booked.waitlist_count == 7
    assert booked.updated_at > before


def test_a_change_that_is_rolled_back_emails_nobody(booked, organizer, mailoutbox, run_jobs):
    register(booked, confirmed=1)
    with pytest.raises(ApplicationError):
        services.session_update(
            session=booked, data={"starts_at": booked.starts_at + dt.timedelta(hours=1), "capacity": 0}, by=organizer
        )
    run_jobs()
    assert mailoutbox == []
    booked.refresh_from_db()
    assert booked.sequence == 0


def test_editing_the_title_emails_nobody(booked, organizer, mailoutbox, run_jobs):
    register(booked, confirmed=1)
    services.session_update(session=booked, data={"title": "Moonrise"}, by=organizer)
    run_jobs()
    assert mailoutbox == []


def test_cancel_keeps_registrations_bumps_sequence_and_emails_the_reason(booked, organizer, mailoutbox, run_jobs):
    register(booked, confirmed=2, waitlisted=1)
    cancelled = services.session_cancel(session=booked, reason="Typhoon warning", by=organizer)
    run_jobs()
    assert cancelled.status == Session.Status.CANCELLED
    assert cancelled.sequence == 1
    assert cancelled.cancel_reason == "Typhoon warning"
    assert Registration.objects.filter(session=booked).exclude(status="cancelled").count() == 3
    assert len(mailoutbox) == 3
    assert all("Typhoon warning" in m.body and m.subject.startswith("Cancelled") for m in mailoutbox)


def test_cancelling_twice_mails_once(booked, organizer, mailoutbox, run_jobs):
    register(booked, confirmed=1)
    services.session_cancel(session=booked, reason="Rain", by=organizer)
    again = services.session_cancel(session=booked, reason="Rain", by=organizer)
    run_jobs()
    assert again.sequence == 1
    assert len(mailoutbox) == 1


def test_fans_without_email_are_skipped(booked, organizer, mailoutbox, run_jobs):
    RegistrationFactory(session=booked, fan=UserFactory(email=""))
    Session.objects.filter(id=booked.id).update(confirmed_count=1)
    services.session_cancel(session=booked, reason="Rain", by=organizer)
    run_jobs()
    assert mailoutbox == []


def test_capacity_cannot_go_below_the_confirmed_seats(booked, organizer):
    register(booked, confirmed=2)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(session=booked, data={"capacity": 1}, by=organizer)
    assert excinfo.value.code == "capacity_below_confirmed"
    assert "capacity" in excinfo.value.fields
    booked.refresh_from_db()
    assert booked.capacity == 2


def test_capacity_can_go_down_to_the_confirmed_seats(booked, organizer):
    register(booked, confirmed=1)
    assert services.session_update(session=booked, data={"capacity": 1}, by=organizer).capacity == 1


def test_raising_capacity_promotes_waitlisted_fans_in_order(booked, organizer):
    regs = register(booked, confirmed=2, waitlisted=3)
    resized = services.session_update(session=booked, data={"capacity": 4}, by=organizer)
    assert resized.confirmed_count == 4
    assert resized.waitlist_count == 1
    statuses = {r.id: (r.status, r.waitlist_position) for r in Registration.objects.filter(session=booked)}
    assert statuses[regs[2].id] == ("confirmed", None)
    assert statuses[regs[3].id] == ("confirmed", None)
    assert statuses[regs[4].id] == ("waitlisted", 1)
    assert resized.sequence == 0


def test_fans_promoted_by_a_capacity_raise_are_emailed_after_commit(booked, organizer, mailoutbox, run_jobs):
    regs = register(booked, confirmed=2, waitlisted=2)
    services.session_update(session=booked, data={"capacity": 3}, by=organizer)
    run_jobs()
    assert [m.to for m in mailoutbox] == [[regs[2].fan.email]]


def test_moving_earlier_than_registration_closes_closes_it_at_the_new_start(booked, organizer):
    assert booked.registration_closes_at == booked.starts_at - dt.timedelta(hours=1)
    earlier = booked.starts_at - dt.timedelta(hours=2)
    moved = services.session_update(
        session=booked, data={"starts_at": earlier, "ends_at": earlier + dt.timedelta(hours=2)}, by=organizer
    )
    assert moved.registration_closes_at == earlier


def test_moving_earlier_than_an_explicit_registration_close_is_refused(booked, organizer):
    earlier = booked.starts_at - dt.timedelta(hours=3)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(
            session=booked,
            data={
                "starts_at": earlier,
                "ends_at": earlier + dt.timedelta(hours=2),
                "registration_closes_at": booked.starts_at,
            },
            by=organizer,
        )
    assert "registration_closes_at" in excinfo.value.fields
