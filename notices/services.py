"""Writes of the notices room: queue notices into the outbox (in the caller's transaction) and
mark them read."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts.models import User
from events.models import Session
from notices.models import OPTIONAL_KINDS, Notice, Preferences
from project import jobs
from project.errors import ApplicationError
from project.i18n import recipient_language
from project.site import site_url


@dataclass(frozen=True)
class Outgoing:
    """One notice to write: its recipient and its texts (already in the recipient's language)."""

    recipient: User
    subject: str
    body: str
    dedupe_key: str | None = None


def opted_out(*, kind: str, user_ids: Iterable[int]) -> set[int]:
    """Which of these users turned this kind's emails off (``Preferences``; seat notices: nobody)."""
    field = OPTIONAL_KINDS.get(kind)
    if field is None:
        return set()
    return set(
        Preferences.objects.filter(user_id__in=list(user_ids), **{field: False}).values_list("user_id", flat=True)
    )


def compose_for(recipient: User, compose: Callable[[], tuple[str, str]]) -> tuple[str, str, str]:
    """Run ``compose`` in ``recipient``'s language; returns (language, subject, body)."""
    language = recipient_language(recipient)
    with translation.override(language):
        subject, body = compose()
    return language, subject, body


@transaction.atomic
def notices_queue(
    *, kind: str, outgoing: Iterable[Outgoing], session: Session | None = None, **extra: object
) -> list[Notice]:
    """Write ``outgoing`` into the outbox and enqueue their delivery, in the caller's transaction:
    a rolled-back change leaves neither a notice nor a job. Returns the notices written. A fan
    without an address, or who turned this kind off, gets it on the site only (``skipped``)."""
    outgoing = list(outgoing)
    silent = opted_out(kind=kind, user_ids=[item.recipient.id for item in outgoing])
    rows = [
        Notice(
            recipient=item.recipient,
            kind=kind,
            subject=item.subject[:300],
            body=item.body,
            session=session,
            email=item.recipient.email,
            language=recipient_language(item.recipient),
            dedupe_key=item.dedupe_key,
            delivery=(
                Notice.Delivery.QUEUED
                if item.recipient.email and item.recipient.id not in silent
                else Notice.Delivery.SKIPPED
            ),
            **extra,
        )
        for item in outgoing
    ]
    if not rows:
        return []
    created = Notice.objects.bulk_create(rows, batch_size=1000)
    to_send = [notice.id for notice in created if notice.delivery == Notice.Delivery.QUEUED]
    deliveries_enqueue(notice_ids=to_send)
    return created


def deliveries_enqueue(*, notice_ids: Sequence[int], run_after: dt.datetime | None = None) -> int:
    """Enqueue delivery jobs of ``NOTICE_BATCH_SIZE`` notices each (in the caller's transaction).
    Returns how many jobs."""
    from notices.tasks import deliver_notices

    size = settings.NOTICE_BATCH_SIZE
    batches = [list(notice_ids[start : start + size]) for start in range(0, len(notice_ids), size)]
    for batch in batches:
        jobs.enqueue(deliver_notices, batch, run_after=run_after)
    return len(batches)


@transaction.atomic
def notices_mark_read(*, user: User, ids: Sequence[int] | None = None) -> int:
    """Mark ``user``'s notices read (all of them when ``ids`` is None); returns how many changed.
    Ids of other people's notices are ignored."""
    unread = Notice.objects.filter(recipient=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(id__in=list(ids))
    return unread.update(read_at=timezone.now())


@transaction.atomic
def stream_follow(*, user: User, stream_id: int) -> bool:
    """``user`` gets "starting now" when the stream goes live; True if newly following.
    A stream that does not exist (or is not visible) answers as not found."""
    from notices.models import StreamFollow
    from streams.selectors import streams_visible_to

    stream = streams_visible_to(user=user).filter(id=stream_id).first()
    if stream is None:
        raise ApplicationError(_("There is no such stream."), code="not_found", status_code=404)
    _follow, created = StreamFollow.objects.get_or_create(user=user, stream=stream)
    return created


@transaction.atomic
def stream_unfollow(*, user: User, stream_id: int) -> None:
    from notices.models import StreamFollow

    StreamFollow.objects.filter(user=user, stream_id=stream_id).delete()


# --- email preferences and one-click unsubscribe (RFC 8058) ------------------------------------

UNSUBSCRIBE_SALT = "notices.unsubscribe"
PREFERENCE_FIELDS = ("email_reminders", "email_messages")


def preferences_of(*, user: User) -> dict[str, bool]:
    found = Preferences.objects.filter(user=user).first()
    return {field: getattr(found, field) if found else True for field in PREFERENCE_FIELDS}


@transaction.atomic
def preferences_update(*, user: User, changes: dict[str, bool]) -> dict[str, bool]:
    """Set some of ``PREFERENCE_FIELDS``; returns them all."""
    values = {field: bool(value) for field, value in changes.items() if field in PREFERENCE_FIELDS}
    preferences, _created = Preferences.objects.select_for_update().get_or_create(user=user)
    for field, value in values.items():
        setattr(preferences, field, value)
    if values:
        preferences.save(update_fields=[*values, "updated_at"])
    return {field: getattr(preferences, field) for field in PREFERENCE_FIELDS}


def unsubscribe_token(*, user_id: int, field: str) -> str:
    """A signed, non-expiring token naming a user and a preference (the link in every optional email)."""
    return signing.dumps({"u": user_id, "f": field}, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(*, user_id: int, field: str) -> str:
    return f"{site_url()}/unsubscribe/{unsubscribe_token(user_id=user_id, field=field)}/"


def unsubscribe_target(*, token: str) -> tuple[User, str]:
    """The user and preference a token names; a forged or damaged token is a 404."""
    try:
        data = signing.loads(token, salt=UNSUBSCRIBE_SALT)
        user = User.objects.get(id=int(data["u"]))
        field = str(data["f"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, User.DoesNotExist) as error:
        raise ApplicationError(_("This unsubscribe link is not valid."), code="not_found", status_code=404) from error
    if field not in PREFERENCE_FIELDS:
        raise ApplicationError(_("This unsubscribe link is not valid."), code="not_found", status_code=404)
    return user, field


@transaction.atomic
def unsubscribe(*, token: str) -> tuple[User, str]:
    """One click: turn off the preference the token names. Idempotent."""
    user, field = unsubscribe_target(token=token)
    preferences_update(user=user, changes={field: False})
    return user, field
