"""The texts of notices, composed inside the transaction of the change (so they describe exactly
what was committed), each in its recipient's language (``project.i18n.recipient_language``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.utils.translation import gettext as _

from events.models import City, Session, Venue
from project import content, formats
from project.site import site_url
from registrations.models import Registration, checkin_code_grouped


@dataclass(frozen=True)
class Text:
    subject: str
    body: str


def when(session: Session) -> str:
    """``12月3日 周四 19:00–21:00 北京时间（UTC+8）`` / ``Thu 3 Dec 2026, 19:00–21:00 Beijing time (UTC+8)``."""
    return formats.when_in_zone(session.starts_at, session.timezone, end=session.ends_at, year=True)


def where(venue: Venue | None, city: City) -> str:
    city_name = content.city_label(city)
    if venue is None:
        return _("%(city)s (online)") % {"city": city_name}
    return ", ".join(part for part in (content.translated(venue, "name"), venue.address, city_name) if part)


def calendar_url(session: Session) -> str:
    return f"{site_url()}/api/sessions/{session.id}/calendar.ics"


def session_url(session: Session) -> str:
    return f"{site_url()}/sessions/{session.id}/"


def stream_url(stream_id: int) -> str:
    return f"{site_url()}/streams/{stream_id}/"


def _letter(*, username: str, lines: list[str], status: str, session: Session) -> str:
    return "\n".join(
        [
            _("Hello %(username)s,") % {"username": username},
            "",
            *lines,
            "",
            status,
            "",
            _("Session page: %(url)s") % {"url": session_url(session)},
            _("Calendar: %(url)s") % {"url": calendar_url(session)},
        ]
    )


def cancelled(*, session: Session, registration: Registration) -> Text:
    """Call with the recipient's language active."""
    title = content.translated(session, "title")
    series = content.translated(session.series, "title")
    lines = [
        _("“%(title)s” (%(series)s) has been cancelled.") % {"title": title, "series": series},
        "",
        _("It was planned for %(when)s at %(where)s.")
        % {"when": when(session), "where": where(session.venue, session.city)},
    ]
    if session.cancel_reason:
        lines += ["", _("Reason: %(reason)s") % {"reason": session.cancel_reason}]
    body = _letter(
        username=registration.fan.username, lines=lines, status=_("We are sorry for the trouble."), session=session
    )
    return Text(subject=_("Cancelled: %(title)s") % {"title": title}, body=body)


def moved(*, session: Session, registration: Registration, previous: dict[str, Any] | None) -> Text:
    """Call with the recipient's language active. ``previous``: see ``project.hooks.session_moved``."""
    title = content.translated(session, "title")
    series = content.translated(session.series, "title")
    lines = [
        _("“%(title)s” (%(series)s) has changed. The new details:") % {"title": title, "series": series},
        "",
        _("When: %(when)s") % {"when": when(session)},
        _("Where: %(where)s") % {"where": where(session.venue, session.city)},
    ]
    if previous:
        was = formats.when_in_zone(previous["starts_at"], previous["timezone"], end=previous["ends_at"], year=True)
        lines += ["", _("(Before: %(when)s, %(where)s.)") % {"when": was, "where": where(*previous["place"])}]
    if registration.status == Registration.Status.CONFIRMED:
        status = _("Your registration is kept: you are confirmed.")
    else:
        status = _("Your registration is kept: you are on the waitlist (position %(position)s).") % {
            "position": registration.waitlist_position
        }
    body = _letter(username=registration.fan.username, lines=lines, status=status, session=session)
    return Text(subject=_("New time or place: %(title)s") % {"title": title}, body=body)


def promoted(*, session: Session, registration: Registration) -> Text:
    """A fan moved from the waitlist to a confirmed seat. Call with the recipient's language active."""
    title = content.translated(session, "title")
    body = "\n".join(
        [
            _("Hello %(username)s,") % {"username": registration.fan.username},
            "",
            _("A seat opened up and you moved from the waitlist to a confirmed seat for %(title)s (%(when)s).")
            % {"title": title, "when": when(session)},
            "",
            _("Where: %(where)s") % {"where": where(session.venue, session.city)},
            _("Your check-in code: %(code)s") % {"code": checkin_code_grouped(registration.checkin_code)},
            "",
            _("Session page: %(url)s") % {"url": session_url(session)},
            _("Calendar: %(url)s") % {"url": calendar_url(session)},
            _("Your sessions: %(url)s") % {"url": f"{site_url()}/sessions/mine/"},
        ]
    )
    return Text(subject=_("You're in: %(title)s") % {"title": title}, body=body)


def stream_live(*, session: Session, registration: Registration, stream_title: str, watch_url: str) -> Text:
    """A stream of a fan's session has gone live. Waitlisted fans (and fans not drawn) are told the
    stream is theirs: the seat went to others, the livestream did not. Call with the recipient's
    language active."""
    title = content.translated(session, "title")
    if registration.status == Registration.Status.CONFIRMED:
        opening = _("%(stream)s is live now: the livestream of %(title)s.") % {"stream": stream_title, "title": title}
        subject = _("Live now: %(title)s") % {"title": title}
    else:
        opening = _("You did not get a seat for %(title)s, but the livestream is yours: %(stream)s is live now.") % {
            "stream": stream_title,
            "title": title,
        }
        subject = _("The livestream is yours: %(title)s") % {"title": title}
    body = "\n".join(
        [
            _("Hello %(username)s,") % {"username": registration.fan.username},
            "",
            opening,
            "",
            _("Watch: %(url)s") % {"url": watch_url},
            "",
        ]
    )
    return Text(subject=subject, body=body)


def _hours(hours: float) -> str:
    return f"{hours:g}"


def reminder(*, session: Session, registration: Registration, hours: float) -> Text:
    """A confirmed fan's reminder ``hours`` before the start. Call with the recipient's language active."""
    title = content.translated(session, "title")
    body = "\n".join(
        [
            _("Hello %(username)s,") % {"username": registration.fan.username},
            "",
            _("“%(title)s” starts in %(hours)s hours.") % {"title": title, "hours": _hours(hours)},
            "",
            _("When: %(when)s") % {"when": when(session)},
            _("Where: %(where)s") % {"where": where(session.venue, session.city)},
            _("Your check-in code: %(code)s") % {"code": checkin_code_grouped(registration.checkin_code)},
            "",
            _("Session page: %(url)s") % {"url": session_url(session)},
            _("Calendar: %(url)s") % {"url": calendar_url(session)},
        ]
    )
    subject = _("Reminder: %(title)s, in %(hours)s hours") % {"title": title, "hours": _hours(hours)}
    return Text(subject=subject, body=body)


def starting(*, session: Session, stream_id: int, username: str) -> Text:
    """ "Starting now" for a livestream's registrants and followers. Call with the recipient's language active."""
    title = content.translated(session, "title")
    body = "\n".join(
        [
            _("Hello %(username)s,") % {"username": username},
            "",
            _("“%(title)s” is live now.") % {"title": title},
            _("Watch: %(url)s") % {"url": stream_url(stream_id)},
            "",
            _("Session page: %(url)s") % {"url": session_url(session)},
        ]
    )
    return Text(subject=_("Live now: %(title)s") % {"title": title}, body=body)


def offered(*, session: Session, registration: Registration) -> Text:
    """A freed seat offered to a waitlisted party until its deadline (accept or decline in one click)."""
    title = content.translated(session, "title")
    deadline = formats.when_in_zone(registration.offer_expires_at, session.timezone, year=True)
    body = "\n".join(
        [
            _("Hello %(username)s,") % {"username": registration.fan.username},
            "",
            _("A seat opened up for %(title)s (%(when)s) and it is yours if you want it.")
            % {"title": title, "when": when(session)},
            _("Accept before %(deadline)s, or it passes to the next fan on the waitlist.") % {"deadline": deadline},
            "",
            _("Accept or decline: %(url)s") % {"url": f"{session_url(session)}#offer"},
            _("Your sessions: %(url)s") % {"url": f"{site_url()}/sessions/mine/"},
        ]
    )
    return Text(subject=_("A seat for you: %(title)s") % {"title": title}, body=body)


def drawn(*, session: Session, registration: Registration) -> Text:
    """The draw's result for one entry: a seat, or a place on the waitlist."""
    title = content.translated(session, "title")
    if registration.status == Registration.Status.CONFIRMED:
        line = _("You were drawn: your seat for %(title)s (%(when)s) is confirmed.")
        subject = _("You were drawn: %(title)s")
    else:
        line = _("The draw for %(title)s (%(when)s) is done: you are on the waitlist, in drawn order.")
        subject = _("Draw result: %(title)s")
    body = "\n".join(
        [
            _("Hello %(username)s,") % {"username": registration.fan.username},
            "",
            line % {"title": title, "when": when(session)},
            _("Your entry reference: %(ref)s") % {"ref": registration.entry_ref},
            _("The drawn order and its seed: %(url)s") % {"url": f"{site_url()}/api/sessions/{session.id}/draw/order/"},
            "",
            _("Session page: %(url)s") % {"url": session_url(session)},
        ]
    )
    return Text(subject=subject % {"title": title}, body=body)


def verify_email(*, username: str, token: str) -> Text:
    body = "\n".join(
        [
            _("Hello %(username)s,") % {"username": username},
            "",
            _("Open this link to confirm that this is your email address (draws need one):"),
            f"{site_url()}/verify-email/?token={token}",
            "",
            _("If you did not ask for it, ignore this email."),
        ]
    )
    return Text(subject=_("Confirm your email address"), body=body)
