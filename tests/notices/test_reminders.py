"""Reminders 24 h and 2 h before (REMINDER_HOURS) to confirmed fans, again after a move, none after a
cancellation; "starting now" to a livestream's registrants and followers."""

import datetime as dt

import pytest
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from events import services as planning
from events.models import Session
from notices.models import Notice
from notices.reminders import reminders_send
from registrations import services as seats
from streams import services as streaming
from tests.conftest import client_for
from tests.factories import SessionFactory, StreamFactory, UserFactory, organizer_of

pytestmark = pytest.mark.django_db


def reminder_jobs(*, hours=None, sequence=None):
    jobs = DBTaskResult.objects.filter(
        status=TaskResultStatus.READY, task_path="notices.tasks.send_reminders"
    ).order_by("run_after")
    return [
        job
        for job in jobs
        if (hours is None or job.args_kwargs["args"][1] == hours)
        and (sequence is None or job.args_kwargs["args"][2] == sequence)
    ]


def time_passes_until(*, hours, sequence=None):
    """The reminder jobs for ``hours`` before the start become due (as if that time had come)."""
    chosen = reminder_jobs(hours=hours, sequence=sequence)
    assert chosen, "no such reminder job planned"
    DBTaskResult.objects.filter(id__in=[job.id for job in chosen]).update(run_after=timezone.now())


def published_in(days: float, **fields) -> Session:
    session = SessionFactory(status=Session.Status.DRAFT, starts_at=timezone.now() + dt.timedelta(days=days), **fields)
    session.ends_at = session.starts_at + dt.timedelta(hours=2)
    session.registration_closes_at = session.starts_at - dt.timedelta(hours=1)
    session.save()
    return planning.session_publish(session=session)


def reminders_to(email):
    return [n for n in Notice.objects.filter(kind=Notice.Kind.REMINDER, recipient__email=email).order_by("id")]


def test_publishing_plans_a_reminder_24_and_2_hours_before_the_start():
    session = published_in(days=3)
    planned = reminder_jobs()
    assert [job.run_after for job in planned] == [
        session.starts_at - dt.timedelta(hours=24),
        session.starts_at - dt.timedelta(hours=2),
    ]


def test_reminder_hours_are_a_setting(settings):
    settings.REMINDER_HOURS = [48, 1]
    session = published_in(days=3)
    assert [job.run_after for job in reminder_jobs()] == [
        session.starts_at - dt.timedelta(hours=48),
        session.starts_at - dt.timedelta(hours=1),
    ]


def test_each_confirmed_fan_gets_one_reminder_24_hours_and_one_2_hours_before(run_jobs, mailoutbox):
    session = published_in(days=3, capacity=2)
    fans = [seats.registration_create(session=session, fan=UserFactory()) for _ in range(4)]
    seats.registration_cancel(registration=fans[1])  # fans[2] is promoted, fans[3] stays waitlisted
    run_jobs()
    mailoutbox.clear()
    assert run_jobs() == 0  # nothing is due yet
    time_passes_until(hours=24)
    run_jobs()
    assert sorted(m.to[0] for m in mailoutbox) == sorted([fans[0].fan.email, fans[2].fan.email])
    message = mailoutbox[0]
    assert message.subject == f"Reminder: {session.title}, in 24 hours"
    assert f"/sessions/{session.id}/" in message.body and f"/api/sessions/{session.id}/calendar.ics" in message.body
    assert "Beijing time" in message.body and session.venue.name in message.body
    time_passes_until(hours=2)
    run_jobs()
    assert len(mailoutbox) == 4
    assert len(reminders_to(fans[0].fan.email)) == 2
    assert reminders_to(fans[1].fan.email) == [] and reminders_to(fans[3].fan.email) == []


def test_a_session_moved_after_its_reminder_gets_the_reminder_again_for_the_new_time(run_jobs, mailoutbox):
    session = published_in(days=3)
    fan = seats.registration_create(session=session, fan=UserFactory()).fan
    time_passes_until(hours=24)
    run_jobs()
    (first,) = reminders_to(fan.email)
    new_start = session.starts_at + dt.timedelta(days=2, hours=3)
    moved = planning.session_update(
        session=session, data={"starts_at": new_start, "ends_at": new_start + dt.timedelta(hours=2)}
    )
    assert moved.sequence == 1
    time_passes_until(hours=2, sequence=0)  # the old time's job: finds the session moved, sends nothing
    run_jobs()
    assert reminders_to(fan.email) == [first]
    time_passes_until(hours=24, sequence=1)
    run_jobs()
    first_again, second = reminders_to(fan.email)
    assert first_again == first
    local = new_start.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert f"{local:%H:%M}" in second.body and f"{local.day} " in second.body
    assert [m.subject for m in mailoutbox].count(f"Reminder: {session.title}, in 24 hours") == 2


def test_no_reminder_for_a_cancelled_registration_or_a_cancelled_session(run_jobs):
    kept = published_in(days=3)
    cancelled = published_in(days=4)
    leaving = seats.registration_create(session=kept, fan=UserFactory())
    staying = seats.registration_create(session=kept, fan=UserFactory())
    told = seats.registration_create(session=cancelled, fan=UserFactory())
    seats.registration_cancel(registration=leaving)
    planning.session_cancel(session=cancelled, reason="Rain")
    time_passes_until(hours=24)
    time_passes_until(hours=2)
    run_jobs()
    assert reminders_to(leaving.fan.email) == []
    assert reminders_to(told.fan.email) == []
    assert len(reminders_to(staying.fan.email)) == 2


def test_a_reminder_job_that_runs_twice_writes_each_reminder_once():
    session = published_in(days=3)
    seats.registration_create(session=session, fan=UserFactory())
    assert reminders_send(session_id=session.id, hours=24, sequence=0) == 1
    assert reminders_send(session_id=session.id, hours=24, sequence=0) == 0
    assert Notice.objects.filter(kind=Notice.Kind.REMINDER).count() == 1


def test_a_reminder_whose_time_has_passed_is_not_planned():
    published_in(days=0.5)  # 12 h ahead: the 24 h reminder's time is gone
    assert [job.args_kwargs["args"][1] for job in reminder_jobs()] == [2]


def test_starting_now_goes_to_registrants_and_followers_once_each(run_jobs, mailoutbox):
    stream = StreamFactory(session__capacity=1)
    session = stream.session
    confirmed = seats.registration_create(session=session, fan=UserFactory()).fan
    waitlisted = seats.registration_create(session=session, fan=UserFactory()).fan
    follower = UserFactory()
    stranger = UserFactory()
    assert client_for(follower).post(f"/api/streams/{stream.id}/follow/").status_code == 201
    assert client_for(follower).post(f"/api/streams/{stream.id}/follow/").status_code == 200
    assert client_for(confirmed).post(f"/api/streams/{stream.id}/follow/").status_code == 201  # also registered
    streaming.stream_start(stream=stream, by=organizer_of(session.series.organization))
    run_jobs()
    assert sorted(m.to[0] for m in mailoutbox) == sorted([confirmed.email, waitlisted.email, follower.email])
    assert stranger.email not in {m.to[0] for m in mailoutbox}
    message = mailoutbox[0]
    assert message.subject == f"Live now: {session.title}"
    assert f"/streams/{stream.id}/" in message.body


def test_unfollowing_a_stream_stops_starting_now(run_jobs, mailoutbox):
    stream = StreamFactory()
    follower = UserFactory()
    client_for(follower).post(f"/api/streams/{stream.id}/follow/")
    assert client_for(follower).delete(f"/api/streams/{stream.id}/follow/").status_code == 204
    streaming.stream_start(stream=stream)
    run_jobs()
    assert mailoutbox == []


def test_following_a_stream_that_does_not_exist_is_a_404():
    response = client_for(UserFactory()).post("/api/streams/999999/follow/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_plan_reminders_plans_sessions_that_have_none_waiting_once():
    session = SessionFactory(starts_at=timezone.now() + dt.timedelta(days=3))  # published without the services
    assert reminder_jobs() == []
    from django.core.management import call_command

    call_command("plan_reminders", verbosity=0)
    assert [job.args_kwargs["args"][0] for job in reminder_jobs()] == [session.id, session.id]
    call_command("plan_reminders", verbosity=0)
    assert len(reminder_jobs()) == 2
