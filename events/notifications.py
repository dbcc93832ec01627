"""Emails to the fans of a session when its time or place changes or it is cancelled.

Composed inside the transaction (so they describe exactly what was committed) and sent after commit
(``transaction.on_commit``): a rolled-back change never mails anyone, and a slow mail server never
holds the session row lock.
"""

import logging
import zoneinfo
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction

from events.models import Session
from registrations.selectors import active_registrations_of_session

logger = logging.getLogger(__name__)

RESCHEDULED = "rescheduled"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    body: str


def _when(session: Session, starts_at, ends_at, timezone: str) -> str:
    tz = zoneinfo.ZoneInfo(timezone)
    start, end = starts_at.astimezone(tz), ends_at.astimezone(tz)
    end_fmt = "%H:%M" if end.date() == start.date() else "%Y-%m-%d %H:%M"
    return f"{start:%A %Y-%m-%d %H:%M}–{end.strftime(end_fmt)} ({timezone}, UTC{start:%z})"


def _where(session: Session) -> str:
    city = session.city
    city_name = f"{city.name} {city.local_name}".strip()
    if session.venue is None:
        return f"{city_name} (online)"
    venue = session.venue
    return ", ".join(part for part in (venue.name, venue.address, city_name) if part)


def compose(*, session: Session, change: str, previous: dict | None = None) -> list[Notice]:
    """One notice per confirmed or waitlisted fan with an email address, with the new details."""
    calendar = f"{settings.SITE_URL}/api/sessions/{session.id}/calendar.ics"
    lines: list[str]
    if change == CANCELLED:
        subject = f"Cancelled: {session.title}"
        lines = [
            f"“{session.title}” ({session.series.title}) has been cancelled.",
            "",
            f"It was planned for {_when(session, session.starts_at, session.ends_at, session.timezone)}",
            f"at {_where(session)}.",
        ]
        if session.cancel_reason:
            lines += ["", f"Reason: {session.cancel_reason}"]
    else:
        subject = f"New time or place: {session.title}"
        lines = [
            f"“{session.title}” ({session.series.title}) has changed. The new details:",
            "",
            f"When:  {_when(session, session.starts_at, session.ends_at, session.timezone)}",
            f"Where: {_where(session)}",
        ]
        if previous:
            was = _when(session, previous["starts_at"], previous["ends_at"], previous["timezone"])
            lines += ["", f"(Before: {was}, {previous['where']}.)"]
    notices = []
    for registration in active_registrations_of_session(session=session).order_by("id"):
        email = registration.fan.email
        if not email:
            continue
        status = (
            "Your registration is kept: you are confirmed."
            if registration.status == "confirmed"
            else f"Your registration is kept: you are on the waitlist (position {registration.waitlist_position})."
        )
        if change == CANCELLED:
            status = "We are sorry for the trouble."
        body = "\n".join([f"Hello {registration.fan.username},", "", *lines, "", status, "", f"Calendar: {calendar}"])
        notices.append(Notice(to=email, subject=subject, body=body))
    return notices


def where_of(session: Session) -> str:
    return _where(session)


def send(notices: list[Notice]) -> None:
    if not notices:
        return
    messages = [EmailMessage(n.subject, n.body, settings.DEFAULT_FROM_EMAIL, [n.to]) for n in notices]
    sent = get_connection().send_messages(messages)
    logger.info("session notices sent: %s of %s", sent, len(messages))


def notify_fans_on_commit(*, session: Session, change: str, previous: dict | None = None) -> int:
    """Compose now, send after commit. Returns how many fans will be told."""
    notices = compose(session=session, change=change, previous=previous)
    if notices:
        transaction.on_commit(lambda: send(notices), robust=True)
    return len(notices)
