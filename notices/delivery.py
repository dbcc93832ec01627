"""Email delivery of the outbox, run by the ``deliver_notices`` job.

Each notice is claimed before it is sent (``queued``/due ``failed``/stale ``sending`` ->
``sending``, one conditional UPDATE, committed) and recorded after (``sent``, or ``failed``
with its error and a retry job after the backoff). So two workers never send the same notice at
once, and a worker that dies between the SMTP server's "250 OK" and the record leaves the notice
``sending``: once ``JOBS_STALE_SECONDS`` have passed it is sent again and counted in ``resends``.
A notice is therefore sent at least once and, per crash, at most once more.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction
from django.db.models import Case, F, Max, PositiveIntegerField, Q, When
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from notices.models import OPTIONAL_KINDS, Notice
from notices.services import unsubscribe_url
from project import jobs

logger = logging.getLogger(__name__)

Delivery = Notice.Delivery


def _stale_before(now: dt.datetime) -> dt.datetime:
    return now - dt.timedelta(seconds=settings.JOBS_STALE_SECONDS)


def _claim(notice: Notice) -> bool:
    """Take ``notice`` for sending: True when it is now ``sending`` and ours; False when it is not
    ours to send (sent, skipped, being sent by a live worker, or failed and not due yet).

    One conditional UPDATE: a second worker updating the same row waits for the first one's row
    lock, then finds the row no longer claimable (PostgreSQL re-checks the WHERE on the new row).
    ``notice`` (read at the job's start) gets the claimed values."""
    now = timezone.now()
    claimable = (
        Q(delivery=Delivery.QUEUED)
        | Q(delivery=Delivery.FAILED, next_attempt_at__lte=now)
        | Q(delivery=Delivery.SENDING, sending_since__lt=_stale_before(now))
    )
    taken = Notice.objects.filter(claimable, id=notice.id).update(
        delivery=Delivery.SENDING,
        sending_since=now,
        attempts=F("attempts") + 1,
        # Taken over from a worker that died after claiming it: it may have been sent already.
        resends=Case(
            When(delivery=Delivery.SENDING, then=F("resends") + 1),
            default=F("resends"),
            output_field=PositiveIntegerField(),
        ),
    )
    if taken:
        notice.attempts += 1
    return bool(taken)


def email_of(notice: Notice) -> EmailMessage:
    """The email of a notice. A kind the fan may turn off carries a one-click unsubscribe: the
    ``List-Unsubscribe`` and ``List-Unsubscribe-Post`` headers (RFC 8058) and the link in the text."""
    body, headers = notice.body, {}
    field = OPTIONAL_KINDS.get(notice.kind)
    if field is not None:
        url = unsubscribe_url(user_id=notice.recipient_id, field=field)
        headers = {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
        with translation.override(notice.language or settings.LANGUAGE_CODE):
            stop = _("Stop these emails (one click): %(url)s") % {"url": url}
        body = f"{body}\n\n{stop}"
    return EmailMessage(
        subject=notice.subject,
        body=body,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[notice.email],
        headers=headers,
    )


def _record_sent(notice: Notice) -> None:
    Notice.objects.filter(id=notice.id, delivery=Delivery.SENDING).update(
        delivery=Delivery.SENT, sent_at=timezone.now(), sending_since=None, last_error=""
    )


def _record_failures(failures: dict[int, str], attempts: dict[int, int]) -> None:
    """Keep each error and enqueue one retry job per backoff step, in one transaction."""
    now = timezone.now()
    by_time: dict[dt.datetime, list[int]] = {}
    with transaction.atomic():
        for notice_id, error in failures.items():
            retry_at = now + jobs.retry_delay(attempts[notice_id])
            Notice.objects.filter(id=notice_id, delivery=Delivery.SENDING).update(
                delivery=Delivery.FAILED, last_error=error[:2000], next_attempt_at=retry_at, sending_since=None
            )
            by_time.setdefault(retry_at, []).append(notice_id)
        from notices.services import deliveries_enqueue

        for retry_at, ids in by_time.items():
            deliveries_enqueue(notice_ids=ids, run_after=retry_at)


def _follow_up_busy(unclaimed: Sequence[int]) -> None:
    """Notices another worker holds (``sending``) get a follow-up job for when its hold would be
    stale: if that worker dies, nobody else would send them."""
    held = Notice.objects.filter(id__in=unclaimed, delivery=Delivery.SENDING)
    latest = held.aggregate(latest=Max("sending_since"))["latest"]
    if latest is None:
        return
    from notices.services import deliveries_enqueue

    with transaction.atomic():
        run_after = latest + dt.timedelta(seconds=settings.JOBS_STALE_SECONDS + 1)
        deliveries_enqueue(notice_ids=list(held.values_list("id", flat=True)), run_after=run_after)


def _send(connection: BaseEmailBackend, notice: Notice) -> None:
    # Opened once and kept for the job's notices (send_messages would otherwise open and close
    # a connection per message).
    connection.open()
    if not connection.send_messages([email_of(notice)]):
        raise RuntimeError("the mail backend accepted no message")


def deliver(*, notice_ids: Sequence[int]) -> dict[str, int]:
    """Send these notices once each (see the module docstring); returns counts by outcome."""
    outcome: Counter[str] = Counter()
    failures: dict[int, str] = {}
    attempts: dict[int, int] = {}
    unclaimed: list[int] = []
    connection = get_connection(fail_silently=False)
    notices = Notice.objects.in_bulk(list(notice_ids))
    unclaimed += [notice_id for notice_id in notice_ids if notice_id not in notices]
    try:
        for notice_id in notice_ids:
            notice = notices.get(notice_id)
            if notice is None:
                continue
            if not _claim(notice):
                unclaimed.append(notice_id)
                continue
            try:
                _send(connection, notice)
            except Exception as error:
                failures[notice.id] = f"{type(error).__name__}: {error}"
                attempts[notice.id] = notice.attempts
                outcome["failed"] += 1
                _close_quietly(connection)
                connection = get_connection(fail_silently=False)
                continue
            _record_sent(notice)
            outcome["sent"] += 1
    finally:
        _close_quietly(connection)
    if failures:
        _record_failures(failures, attempts)
        logger.warning("%s notice(s) not delivered; retried later: %s", len(failures), next(iter(failures.values())))
    if unclaimed:
        _follow_up_busy(unclaimed)
    return dict(outcome)


def _close_quietly(connection: BaseEmailBackend) -> None:
    try:
        connection.close()
    except Exception:  # noqa: BLE001, S110 - a broken connection is replaced either way
        pass


def pending_count() -> int:
    """Notices not delivered yet (queued, being sent, or failed and waiting for a retry)."""
    return Notice.objects.filter(delivery__in=[Delivery.QUEUED, Delivery.SENDING, Delivery.FAILED]).count()
