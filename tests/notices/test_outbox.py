"""The outbox: notices are written with the change and delivered by the job worker, through a real
SMTP server (aiosmtpd) that is down, then refuses mail, then accepts it again."""

import datetime as dt
import time
from collections import Counter

import pytest
from django.db import transaction
from django_tasks_db.models import DBTaskResult

from events import services as planning
from notices.models import Notice
from registrations import services as seats
from tests.factories import SessionFactory, UserFactory, organizer_of
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db


def wait_until(condition, *, timeout: float = 60.0, step: float = 0.05):
    """Polls ``condition`` (which may run jobs) until it is true; fails after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(step)
    raise AssertionError("condition not met in time")


@pytest.fixture
def fast_retries(settings):
    settings.JOBS_RETRY_BASE_SECONDS = 0.2
    settings.JOBS_RETRY_MAX_SECONDS = 0.5


def fill(session, count):
    return [seats.registration_create(session=session, fan=UserFactory()) for _ in range(count)]


def test_notices_made_during_a_mail_outage_all_arrive_once_it_ends_each_exactly_once(settings, fast_retries, run_jobs):
    sink = SmtpSink()  # not started: the mail server is down, connections are refused
    for name, value in sink.settings().items():
        setattr(settings, name, value)
    moving = SessionFactory(capacity=2)
    cancelling = SessionFactory(capacity=5)
    organizer = organizer_of(moving.series.organization)
    moving_fans = [r.fan.email for r in fill(moving, 3)]  # 2 confirmed, 1 waitlisted
    cancelled_fans = [r.fan.email for r in fill(cancelling, 2)]
    organizer_b = organizer_of(cancelling.series.organization)
    new_start = moving.starts_at + dt.timedelta(days=1)
    planning.session_update(
        session=moving, data={"starts_at": new_start, "ends_at": new_start + dt.timedelta(hours=2)}, by=organizer
    )
    planning.session_cancel(session=cancelling, reason="Typhoon warning", by=organizer_b)
    assert Notice.objects.count() == 5

    run_jobs()  # the server is down
    failed = Notice.objects.filter(delivery=Notice.Delivery.FAILED)
    assert failed.count() == 5
    assert all("Connection refused" in n.last_error or "ConnectionRefused" in n.last_error for n in failed)

    sink.refusing = True
    sink.start()
    try:
        # The server is up but answers 451 for a while: every retry fails again and is kept.
        wait_until(lambda: run_jobs() >= 0 and sink.handler.refused >= 5)
        wait_until(lambda: run_jobs() >= 0 and Notice.objects.filter(attempts__gte=2).count() == 5)
        assert Notice.objects.filter(delivery=Notice.Delivery.FAILED).count() == 5
        assert all("451" in n.last_error for n in Notice.objects.all())
        assert sink.messages == []

        sink.refusing = False
        wait_until(lambda: run_jobs() >= 0 and Notice.objects.filter(delivery=Notice.Delivery.SENT).count() == 5)
        run_jobs()  # anything still queued would send a copy now
    finally:
        sink.stop()
    received = Counter((m.to[0], m.subject) for m in sink.messages)
    expected = {(address, f"New time or place: {moving.title}") for address in moving_fans} | {
        (address, f"Cancelled: {cancelling.title}") for address in cancelled_fans
    }
    assert set(received) == expected
    assert all(count == 1 for count in received.values()), received
    # Failed deliveries stay on record as failed job-free notices: none dropped, none pending.
    assert not Notice.objects.exclude(delivery=Notice.Delivery.SENT).exists()


def test_a_rolled_back_change_queues_no_notice_and_no_job(run_jobs, mailoutbox):
    session = SessionFactory(capacity=2)
    fill(session, 2)
    organizer = organizer_of(session.series.organization)
    with pytest.raises(RuntimeError), transaction.atomic():
        planning.session_cancel(session=session, reason="Rain", by=organizer)
        assert Notice.objects.count() == 2
        raise RuntimeError("something later in the same request failed")
    assert Notice.objects.count() == 0
    assert DBTaskResult.objects.count() == 0
    assert run_jobs() == 0
    assert mailoutbox == []


def test_a_notice_is_written_with_the_change_and_sent_only_by_the_worker(mailoutbox, run_jobs):
    session = SessionFactory(capacity=2)
    (registration,) = fill(session, 1)
    planning.session_cancel(session=session, reason="Rain", by=organizer_of(session.series.organization))
    notice = Notice.objects.get()
    assert (notice.recipient, notice.kind, notice.session, notice.delivery) == (
        registration.fan,
        Notice.Kind.CANCELLED,
        session,
        Notice.Delivery.QUEUED,
    )
    assert mailoutbox == []  # the web process sends nothing
    assert run_jobs() == 1
    assert [m.to for m in mailoutbox] == [[registration.fan.email]]
    notice.refresh_from_db()
    assert notice.delivery == Notice.Delivery.SENT and notice.attempts == 1 and notice.sent_at is not None


def test_a_fan_without_an_email_address_gets_the_notice_on_the_site_only(mailoutbox, run_jobs):
    session = SessionFactory(capacity=2)
    seats.registration_create(session=session, fan=UserFactory(email=""))
    planning.session_cancel(session=session, reason="Rain", by=organizer_of(session.series.organization))
    assert Notice.objects.get().delivery == Notice.Delivery.SKIPPED
    assert run_jobs() == 0
    assert mailoutbox == []


def test_seats_offered_are_told_by_a_job_once_and_not_after_the_offer_was_answered(run_jobs, mailoutbox):
    """The offer's notice is composed by a job after the seat's transaction (which holds the session's
    lock); running that job twice tells the fan once, and an offer answered before its notice was
    written is not announced afterwards."""
    from notices.handlers import seats_tell

    session = SessionFactory(capacity=1, offer_hold_minutes=60)
    seated, first, second = (seats.registration_create(session=session, fan=UserFactory()) for _ in range(3))
    seats.registration_cancel(registration=seated)
    job = DBTaskResult.objects.get(task_path__endswith="tell_seats")
    run_jobs()
    assert [m.to[0] for m in mailoutbox] == [first.fan.email]
    assert f"/sessions/{session.id}/#offer" in mailoutbox[0].body  # where it is answered in one click
    assert seats_tell(**dict(zip(["kind", "session_id", "parties", "at"], job.args_kwargs["args"], strict=True))) == 0

    seats.offer_decline(registration=first)  # the seat is offered to the second fan ...
    seats.offer_accept(registration=second)  # ... who takes it before the notice is written
    mailoutbox.clear()
    run_jobs()
    assert mailoutbox == []
    assert not Notice.objects.filter(recipient=second.fan, kind=Notice.Kind.OFFERED).exists()
