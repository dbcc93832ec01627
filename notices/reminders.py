"""Reminders to confirmed fans before a session (``REMINDER_HOURS``, 24 h and 2 h by default).

One job per session and reminder time, due at that time (django-tasks ``run_after``), planned when
the session is published and again when it moves. A job carries the session's ``sequence`` at
planning: when it runs, a session that moved since (a new sequence: its own jobs are planned) or
was cancelled gets nothing from it. Each fan's reminder has a dedupe key (session, sequence,
hours, fan), so a job that runs twice sends nothing twice, and a moved session's reminder is sent
again for the new time. A reminder whose time has already passed when it is planned is not sent
(a fan told of a move gets the new time in that notice).
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from events.models import Session
from notices import compose
from notices.models import Notice
from notices.services import Outgoing, compose_for, notices_queue
from project import jobs
from registrations.models import Registration


def reminders_plan(*, session: Session) -> int:
    """Enqueue this session's reminder jobs still ahead (in the caller's transaction); returns how many."""
    from notices.tasks import send_reminders

    now = timezone.now()
    planned = 0
    for hours in settings.REMINDER_HOURS:
        due = session.starts_at - dt.timedelta(hours=hours)
        if due <= now:
            continue
        jobs.enqueue(send_reminders, session.id, hours, session.sequence, run_after=due)
        planned += 1
    return planned


def dedupe_key(*, session: Session, hours: float, fan_id: int) -> str:
    return f"reminder:{session.id}:{session.sequence}:{hours:g}:{fan_id}"


@transaction.atomic
def reminders_send(*, session_id: int, hours: float, sequence: int) -> int:
    """Queue the reminders of one session and time; returns how many notices were written."""
    session = (
        Session.objects.select_related("series", "venue", "city")
        .filter(id=session_id, status=Session.Status.PUBLISHED, sequence=sequence)
        .first()
    )
    if session is None or session.starts_at <= timezone.now():
        return 0  # moved (a newer job has it), cancelled, unpublished, or already started
    confirmed = Registration.objects.filter(session=session, status=Registration.Status.CONFIRMED).select_related("fan")
    keys = {r.fan_id: dedupe_key(session=session, hours=hours, fan_id=r.fan_id) for r in confirmed}
    done = set(Notice.objects.filter(dedupe_key__in=keys.values()).values_list("dedupe_key", flat=True))
    outgoing = []
    for registration in confirmed.order_by("id"):
        key = keys[registration.fan_id]
        if key in done:
            continue
        _language, subject, body = compose_for(
            registration.fan,
            lambda r=registration: _pair(compose.reminder(session=session, registration=r, hours=hours)),
        )
        outgoing.append(Outgoing(recipient=registration.fan, subject=subject, body=body, dedupe_key=key))
    return len(notices_queue(kind=Notice.Kind.REMINDER, outgoing=outgoing, session=session))


def _pair(text: compose.Text) -> tuple[str, str]:
    return text.subject, text.body


@transaction.atomic
def reminders_plan_all() -> int:
    """Plan the reminders of every published session still ahead whose reminder jobs for its
    current time are not waiting yet (sessions published before reminders existed, or loaded
    without the planning services, e.g. the demo). Returns how many jobs were enqueued."""
    from django_tasks.base import TaskResultStatus
    from django_tasks_db.models import DBTaskResult

    waiting = {
        (job["args_kwargs"]["args"][0], float(job["args_kwargs"]["args"][1]), job["args_kwargs"]["args"][2])
        for job in DBTaskResult.objects.filter(
            status=TaskResultStatus.READY, task_path="notices.tasks.send_reminders"
        ).values("args_kwargs")
    }
    planned = 0
    upcoming = Session.objects.filter(status=Session.Status.PUBLISHED, starts_at__gt=timezone.now())
    for session in upcoming.only("id", "starts_at", "sequence"):
        if any((session.id, float(hours), session.sequence) in waiting for hours in settings.REMINDER_HOURS):
            continue
        planned += reminders_plan(session=session)
    return planned
