"""Organizer messages: to the confirmed fans, the waitlist, or both, of a session, of a city's
sessions or of a whole series (optionally only its sessions in one city).

Accepting a message writes the message and its fan-out jobs in one transaction (so an accepted
message is never lost and a refused one leaves nothing); the recipients are fixed then (their ids
travel in the jobs). Each fan-out job, run by a worker, writes one ``Notice`` per recipient of its
share with their delivery jobs; its dedupe keys (message, fan) make a job run twice write nothing
twice. So a 10,000-recipient message is accepted in one short transaction. A fan registered for
several of the sessions gets it once. Cancelled sessions count only when named
alone (``session``); a fan's cancelled registration never does.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from accounts.selectors import is_organizer_of
from events.models import City, Series, Session
from notices import compose
from notices.models import Notice, OrganizerMessage
from notices.services import Outgoing, notices_queue
from project import content, jobs
from project.errors import ApplicationError
from project.i18n import recipient_language
from registrations.models import Registration

STATUSES = {
    OrganizerMessage.Audience.CONFIRMED: [Registration.Status.CONFIRMED],
    OrganizerMessage.Audience.WAITLISTED: [Registration.Status.WAITLISTED],
    OrganizerMessage.Audience.ALL: [Registration.Status.CONFIRMED, Registration.Status.WAITLISTED],
}
SUBJECT_MAX = 200
BODY_MAX = 10_000


@dataclass(frozen=True)
class Target:
    """Whom a message is for: a session, or a series and/or a city."""

    session: Session | None = None
    series: Series | None = None
    city: City | None = None

    @property
    def organization_id(self) -> int:
        if self.session is not None:
            return self.session.series.organization_id
        if self.series is not None:
            return self.series.organization_id
        if self.city is None:
            raise ValueError("a target names a session, a series or a city")
        return self.city.organization_id

    def sessions(self) -> QuerySet[Session]:
        if self.session is not None:
            return Session.objects.filter(id=self.session.id)
        sessions = Session.objects.exclude(status=Session.Status.CANCELLED)
        if self.series is not None:
            sessions = sessions.filter(series=self.series)
        else:
            sessions = sessions.filter(series__organization_id=self.organization_id)
        if self.city is not None:
            sessions = sessions.filter(city=self.city)
        return sessions

    def label(self) -> str:
        """How the message's footer names the target, in the active language."""
        if self.session is not None:
            return content.translated(self.session, "title")
        parts = []
        if self.series is not None:
            parts.append(content.translated(self.series, "title"))
        if self.city is not None:
            parts.append(content.city_label(self.city))
        return " · ".join(parts)


def _invalid(fields: dict[str, list[str]]) -> ApplicationError:
    return ApplicationError(_("The message cannot be sent as it is."), code="invalid", fields=fields)


def target_resolve(*, session_id: int | None, series_id: int | None, city_id: int | None) -> Target:
    """Ids from the request -> a ``Target``; unknown ids and mixed organizations are 400s."""
    if session_id is not None and (series_id is not None or city_id is not None):
        raise _invalid({"session": [_("Name a session, or a series and/or a city, not both.")]})
    if session_id is None and series_id is None and city_id is None:
        raise _invalid({"session": [_("Name a session, a series or a city.")]})
    errors: dict[str, list[str]] = {}
    session = series = city = None
    if session_id is not None:
        session = Session.objects.select_related("series").filter(id=session_id).first()
        if session is None:
            errors["session"] = [_("There is no such session.")]
    if series_id is not None:
        series = Series.objects.filter(id=series_id).first()
        if series is None:
            errors["series"] = [_("There is no such series.")]
    if city_id is not None:
        city = City.objects.filter(id=city_id).first()
        if city is None:
            errors["city"] = [_("There is no such city.")]
    if errors:
        raise _invalid(errors)
    if series is not None and city is not None and series.organization_id != city.organization_id:
        raise _invalid({"city": [_("This city belongs to another organization.")]})
    return Target(session=session, series=series, city=city)


def _ensure_organizer(by: User, target: Target) -> None:
    if not is_organizer_of(user=by, organization_id=target.organization_id):
        raise ApplicationError(
            _("Only organizers of this organization may write to its fans."), code="permission_denied", status_code=403
        )


def recipients_of(*, target: Target, audience: str) -> QuerySet[User]:
    """The fans a message reaches: each once, however many of the sessions they registered for."""
    fan_ids = Registration.objects.filter(session__in=target.sessions(), status__in=STATUSES[audience]).values("fan_id")
    return User.objects.filter(id__in=fan_ids).only("id", "username", "email", "language").order_by("id")


def _check_audience(audience: str) -> None:
    if audience not in STATUSES:
        raise _invalid({"audience": [_("Choose confirmed, waitlisted or all.")]})


def message_preview(*, by: User, target: Target, audience: str) -> int:
    """How many fans a message would reach (nothing is written)."""
    _check_audience(audience)
    _ensure_organizer(by, target)
    return recipients_of(target=target, audience=audience).count()


def _letters(*, target: Target, subject: str, body: str, fans: Iterable[User], message_id: int) -> list[Outgoing]:
    """The organizer's text as written, with a footer in each fan's language (composed once per language)."""
    footers: dict[str, str] = {}
    outgoing = []
    for fan in fans:
        language = recipient_language(fan)
        if language not in footers:
            with translation.override(language):
                lines = [_("You get this message as a registered fan of %(target)s.") % {"target": target.label()}]
                if target.session is not None:
                    lines += [
                        _("Session page: %(url)s") % {"url": compose.session_url(target.session)},
                        _("Calendar: %(url)s") % {"url": compose.calendar_url(target.session)},
                    ]
                footers[language] = "\n".join(lines)
        outgoing.append(
            Outgoing(
                recipient=fan,
                subject=subject,
                body=f"{body}\n\n-- \n{footers[language]}",
                dedupe_key=message_dedupe_key(message_id=message_id, fan_id=fan.id),
            )
        )
    return outgoing


FAN_OUT_SIZE = 2000  # recipients per fan-out job


@transaction.atomic
def message_send(*, by: User, target: Target, audience: str, subject: str, body: str) -> OrganizerMessage:
    """Write the message and its fan-out jobs in one transaction (see the module docstring)."""
    from notices.tasks import fan_out_message

    _check_audience(audience)
    subject, body = (subject or "").strip(), (body or "").strip()
    errors = {}
    if not subject or len(subject) > SUBJECT_MAX:
        errors["subject"] = [_("Write a subject of at most %(max)s characters.") % {"max": SUBJECT_MAX}]
    if not body or len(body) > BODY_MAX:
        errors["body"] = [_("Write a message of at most %(max)s characters.") % {"max": BODY_MAX}]
    if errors:
        raise _invalid(errors)
    _ensure_organizer(by, target)
    fan_ids = list(recipients_of(target=target, audience=audience).values_list("id", flat=True))
    message = OrganizerMessage.objects.create(
        organization_id=target.organization_id,
        author=by,
        subject=subject,
        body=body,
        audience=audience,
        session=target.session,
        series=target.series,
        city=target.city,
        recipients=len(fan_ids),
    )
    for start in range(0, len(fan_ids), FAN_OUT_SIZE):
        jobs.enqueue(fan_out_message, message.id, fan_ids[start : start + FAN_OUT_SIZE])
    return message


def message_dedupe_key(*, message_id: int, fan_id: int) -> str:
    return f"message:{message_id}:{fan_id}"


@transaction.atomic
def message_fan_out(*, message_id: int, fan_ids: list[int]) -> int:
    """Write the notices of these recipients (those not written yet) and queue their delivery;
    returns how many were written."""
    message = OrganizerMessage.objects.select_related("session__series", "series", "city").get(id=message_id)
    target = Target(session=message.session, series=message.series, city=message.city)
    keys = [message_dedupe_key(message_id=message_id, fan_id=fan_id) for fan_id in fan_ids]
    written = set(Notice.objects.filter(dedupe_key__in=keys).values_list("recipient_id", flat=True))
    fans = (
        User.objects.filter(id__in=[fan_id for fan_id in fan_ids if fan_id not in written])
        .only("id", "username", "email", "language")
        .order_by("id")
    )
    outgoing = _letters(target=target, subject=message.subject, body=message.body, fans=fans, message_id=message_id)
    return len(notices_queue(kind=Notice.Kind.MESSAGE, outgoing=outgoing, session=message.session, message=message))
