"""A worker killed (SIGKILL) in the middle of a 1,000-recipient message: another worker finishes it;
every recipient gets the message, none more than twice, and the duplicates are counted."""

import signal
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Sum
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from notices.messages import Target, message_send
from notices.models import Notice, OrganizerMessage
from project import jobs
from registrations.models import Registration
from tests.factories import SessionFactory, UserFactory, organizer_of
from tests.notices.processes import start_worker, stop
from tests.notices.test_outbox import wait_until
from tests.smtp_sink import SmtpSink

RECIPIENTS = 1000


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_mid_message_loses_no_recipient_and_sends_none_more_than_twice(settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("worker processes share a PostgreSQL database")
    settings.NOTICE_BATCH_SIZE = 25
    session = SessionFactory(capacity=RECIPIENTS)
    fans = UserFactory.create_batch(RECIPIENTS)
    Registration.objects.bulk_create(
        Registration(session=session, fan=fan, status=Registration.Status.CONFIRMED, checkin_code=f"code-{fan.id}")
        for fan in fans
    )
    organizer = organizer_of(session.series.organization)
    # A job or notice untouched for 3 s belongs to a dead worker (production: 300 s).
    environment = {**SmtpSink().environment(), "JOBS_STALE_SECONDS": "3"}
    with SmtpSink() as sink:
        environment.update(sink.environment())
        first = start_worker(environment, tmp_path / "first.log")
        second = None
        try:
            message = message_send(
                by=organizer, target=Target(session=session), audience="confirmed", subject="Tonight", body="Tripods."
            )
            assert message.recipients == RECIPIENTS
            # 310: ten emails into the 13th job of 25, so the worker dies in the middle of a job.
            wait_until(lambda: len(sink.messages) >= 310, timeout=120, step=0.002)
            first.send_signal(signal.SIGKILL)  # no chance to record what it was sending
            first.wait(timeout=30)
            delivered_by_first = len(sink.messages)
            assert delivered_by_first < RECIPIENTS, "the first worker finished before it could be killed"
            second = start_worker(environment, tmp_path / "second.log")
            wait_until(
                lambda: Notice.objects.filter(message=message, delivery=Notice.Delivery.SENT).count() == RECIPIENTS,
                timeout=180,
            )
        finally:
            for process in (first, second):
                if process is not None:
                    stop(process)
        received = sink.count_by_recipient()
    emails = {fan.email for fan in fans}
    assert set(received) == emails  # every recipient got it
    assert max(received.values()) <= 2  # none more than twice
    duplicates = sum(count - 1 for count in received.values())
    counted = Notice.objects.filter(message=message).aggregate(resends=Sum("resends"))["resends"]
    assert duplicates <= counted  # every duplicate was counted as a possible one
    message_jobs = DBTaskResult.objects.exclude(task_path=jobs.prune_finished_jobs.module_path)  # planned beside
    recovered = [r for r in message_jobs if len(r.worker_ids) > 1]
    assert recovered, "the killed worker's job was not taken over"
    assert not message_jobs.exclude(status=TaskResultStatus.SUCCESSFUL).exists()
    assert OrganizerMessage.objects.get().recipients == RECIPIENTS
    print(
        f"killed after {delivered_by_first} emails; duplicates received: {duplicates}; "
        f"counted as possible: {counted}; jobs taken over: {len(recovered)}; "
        f"per-recipient counts: {dict(Counter(received.values()))}"
    )
