"""Reads of the notices room."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Count, Q, QuerySet

from accounts.backends import read_with_user, read_with_user_value
from accounts.models import User
from accounts.selectors import is_organizer_of
from notices.models import Notice, OrganizerMessage
from project.db import prepared_cursor

Delivery = Notice.Delivery


@dataclass(frozen=True)
class Progress:
    id: int
    recipients: int
    queued: int
    sent: int
    failed: int
    skipped: int
    status: str


def message_of_organizer(*, user: User, message_id: int) -> OrganizerMessage | None:
    """The message if ``user`` organizes its organization; anyone else gets None (a 404)."""
    message = OrganizerMessage.objects.filter(id=message_id).first()
    if message is None or not is_organizer_of(user=user, organization_id=message.organization_id):
        return None
    return message


def message_progress(*, message: OrganizerMessage) -> Progress:
    """Delivery so far. ``queued`` counts recipients not delivered yet (waiting or being sent),
    ``failed`` those whose last attempt failed (kept, retried later), ``skipped`` fans who turned
    organizer emails off or have no address (they see it on the site). Status: ``queued`` until
    the first delivery, ``sending`` while any is queued or failed, then ``sent``."""
    counts = Notice.objects.filter(message=message).aggregate(
        sent=Count("id", filter=Q(delivery=Delivery.SENT)),
        failed=Count("id", filter=Q(delivery=Delivery.FAILED)),
        skipped=Count("id", filter=Q(delivery=Delivery.SKIPPED)),
    )
    # Recipients whose notice is not written yet (fan-out pending) are queued too.
    counts["queued"] = message.recipients - counts["sent"] - counts["failed"] - counts["skipped"]
    pending = counts["queued"] + counts["failed"]
    if pending == 0:
        status = "sent"
    elif counts["sent"] == 0 and counts["failed"] == 0:
        status = "queued"
    else:
        status = "sending"
    return Progress(id=message.id, recipients=message.recipients, status=status, **counts)


def message_recipients(*, message: OrganizerMessage) -> QuerySet[Notice]:
    """Who got it (or will): one notice per recipient, with its delivery state."""
    return Notice.objects.filter(message=message).select_related("recipient").order_by("id")


def notices_of(*, user: User) -> QuerySet[Notice]:
    return Notice.objects.filter(recipient=user).order_by("-created_at", "-id")


def read_unread_count_with_user() -> None:
    """The bell's count is read with the signed-in user on every request (accounts.backends), so the
    pages fans reload during a rush need no statement of their own for it."""
    read_with_user("unread_notices", _unread_sql(recipient="u.id"))


def unread_count_as_signed_in(*, user: User) -> int:
    """The bell's count as it was when this request's user was read (before anything the request
    itself marked read); a statement of its own if the user was not read so (an API token, a test)."""
    count = read_with_user_value(user, "unread_notices")
    return count if isinstance(count, int) else unread_count(user=user)


def unread_count(*, user: User) -> int:
    """The bell's count, now: one small prepared statement."""
    with prepared_cursor() as cursor:
        cursor.execute(f"SELECT {_unread_sql(recipient='%s')}", [user.pk])  # noqa: S608 - a placeholder
        (count,) = cursor.fetchone()
    return count


def _unread_sql(*, recipient: str) -> str:
    """The bell's count as a scalar subquery; ``recipient``: the SQL that names the person."""
    table = connection.ops.quote_name(Notice._meta.db_table)
    return f"(SELECT COUNT(*) FROM {table} n WHERE n.recipient_id = {recipient} AND n.read_at IS NULL)"  # noqa: S608
