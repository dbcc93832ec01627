"""Emails to the fans of a session when its time or place changes or it is cancelled.

Composed inside the transaction (so they describe exactly what was committed) and sent after commit
(``transaction.on_commit``): a rolled-back change never mails anyone, and a slow mail server never
holds the session row lock.
"""

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import translation
from django.utils.translation import gettext as _

from events.models import City, Session, Venue
from project import content, formats
from project.i18n import recipient_language
from registrations.selectors import active_registrations_of_session

logger = logging.getLogger(__name__)

RESCHEDULED = "rescheduled"
CANCELLED = "cancelled"


@dataclass(frozen=True)
class Notice:
    to: str
    subject: str
    body: str


def _when(starts_at, ends_at, timezone: str) -> str:
    """``12月3日 周四 19:00–21:00 北京时间（UTC+8）`` / ``Thu 3 Dec 2026, 19:00–21:00 Beijing time (UTC+8)``."""
    return formats.when_in_zone(starts_at, timezone, end=ends_at, year=True)


def _where(venue: Venue | None, city: City) -> str:
    city_name = content.city_label(city)
    if venue is None:
        return _("%(city)s (online)") % {"city": city_name}
    return ", ".join(part for part in (content.translated(venue, "name"), venue.address, city_name) if part)


def place_of(session: Session) -> tuple[Venue | None, City]:
    """Where a session is now, kept before a change so that the emails can say where it was."""
    return session.venue, session.city


def _compose_one(*, session: Session, registration, change: str, previous: dict | None) -> Notice:
    """One fan's email, in the fan's language (their saved choice, else the site's default)."""
    calendar = f"{settings.SITE_URL}/api/sessions/{session.id}/calendar.ics"
    title = content.translated(session, "title")
    series = content.translated(session.series, "title")
    fan = registration.fan
    when = _when(session.starts_at, session.ends_at, session.timezone)
    where = _where(session.venue, session.city)
    lines: list[str]
    if change == CANCELLED:
        subject = _("Cancelled: %(title)s") % {"title": title}
        lines = [
            _("“%(title)s” (%(series)s) has been cancelled.") % {"title": title, "series": series},
            "",
            _("It was planned for %(when)s at %(where)s.") % {"when": when, "where": where},
        ]
        if session.cancel_reason:
            lines += ["", _("Reason: %(reason)s") % {"reason": session.cancel_reason}]
        status = _("We are sorry for the trouble.")
    else:
        subject = _("New time or place: %(title)s") % {"title": title}
        lines = [
            _("“%(title)s” (%(series)s) has changed. The new details:") % {"title": title, "series": series},
            "",
            _("When: %(when)s") % {"when": when},
            _("Where: %(where)s") % {"where": where},
        ]
        if previous:
            was = _when(previous["starts_at"], previous["ends_at"], previous["timezone"])
            lines += ["", _("(Before: %(when)s, %(where)s.)") % {"when": was, "where": _where(*previous["place"])}]
        if registration.status == "confirmed":
            status = _("Your registration is kept: you are confirmed.")
        else:
            status = _("Your registration is kept: you are on the waitlist (position %(position)s).") % {
                "position": registration.waitlist_position
            }
    body = "\n".join(
        [
            _("Hello %(username)s,") % {"username": fan.username},
            "",
            *lines,
            "",
            status,
            "",
            _("Calendar: %(url)s") % {"url": calendar},
        ]
    )
    return Notice(to=fan.email, subject=subject, body=body)


def compose(*, session: Session, change: str, previous: dict | None = None) -> list[Notice]:
    """One notice per confirmed or waitlisted fan with an email address, with the new details,
    each in the fan's own language."""
    notices = []
    for registration in active_registrations_of_session(session=session).order_by("id"):
        if not registration.fan.email:
            continue
        with translation.override(recipient_language(registration.fan)):
            notices.append(_compose_one(session=session, registration=registration, change=change, previous=previous))
    return notices


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
