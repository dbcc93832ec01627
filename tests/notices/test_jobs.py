"""The job engine: django-tasks' database backend, retries with backoff, stalled jobs, and several
worker processes sharing the queue on PostgreSQL."""

import datetime as dt
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone
from django_tasks.base import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from accounts.models import User
from notices.models import Notice
from notices.services import Outgoing, notices_queue
from project import jobs
from tests.factories import UserFactory
from tests.notices import flaky_jobs
from tests.notices.processes import start_worker, stop
from tests.notices.test_outbox import wait_until
from tests.smtp_sink import SmtpSink


def deliveries():
    """The delivery jobs' rows (the workers also keep a pruning job planned beside them)."""
    return DBTaskResult.objects.filter(task_path="notices.tasks.deliver_notices")


@pytest.mark.django_db
def test_a_failing_job_keeps_its_error_and_is_retried_after_a_backoff(settings):
    settings.JOBS_RETRY_BASE_SECONDS = 0.3
    jobs.enqueue(flaky_jobs.flaky, "a")
    assert jobs.run_due(raise_failures=False) == 1
    (failed,) = DBTaskResult.objects.filter(status=TaskResultStatus.FAILED)
    assert "flaky job a failed" in failed.traceback
    (retry,) = DBTaskResult.objects.filter(status=TaskResultStatus.READY)
    assert retry.args_kwargs == {"args": ["a"], "kwargs": {"_attempt": 2}}
    assert retry.run_after > timezone.now()  # not before the backoff
    assert jobs.run_due(raise_failures=False) == 0
    settings.FLAKY_JOB_SUCCEEDS = True
    wait_until(lambda: jobs.run_due() == 1, timeout=30)
    assert DBTaskResult.objects.get(id=retry.id).status == TaskResultStatus.SUCCESSFUL
    assert DBTaskResult.objects.filter(id=failed.id, status=TaskResultStatus.FAILED).exists()  # kept


def test_backoff_doubles_up_to_the_maximum(settings):
    settings.JOBS_RETRY_BASE_SECONDS = 30
    settings.JOBS_RETRY_MAX_SECONDS = 100
    assert [jobs.retry_delay(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 100, 100]


@pytest.mark.django_db
def test_a_job_left_running_by_a_dead_worker_is_run_again_once_stale(settings, mailoutbox):
    settings.FLAKY_JOB_SUCCEEDS = True
    job_id = jobs.enqueue(flaky_jobs.flaky, "b")
    DBTaskResult.objects.filter(id=job_id).update(
        status=TaskResultStatus.RUNNING, started_at=timezone.now() - dt.timedelta(seconds=10), worker_ids=["dead"]
    )
    assert jobs.recover_stalled(older_than=dt.timedelta(seconds=60)) == 0  # not stale yet
    assert jobs.recover_stalled(older_than=dt.timedelta(seconds=5)) == 1
    assert jobs.run_due() == 1
    result = DBTaskResult.objects.get(id=job_id)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.worker_ids[0] == "dead"


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_worker_processes_share_the_queue_and_send_each_notice_once(settings, tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("several worker processes share a PostgreSQL database")
    settings.NOTICE_BATCH_SIZE = 5
    fans = [UserFactory() for _ in range(200)]
    with SmtpSink() as sink:
        workers = [start_worker(sink.environment(), tmp_path / f"worker{n}.log") for n in range(2)]
        try:
            notices_queue(
                kind=Notice.Kind.MESSAGE, outgoing=[Outgoing(recipient=fan, subject="Hello", body="Hi") for fan in fans]
            )
            wait_until(lambda: Notice.objects.filter(delivery=Notice.Delivery.SENT).count() == 200, timeout=120)
            wait_until(lambda: not deliveries().exclude(status=TaskResultStatus.SUCCESSFUL).exists())
        finally:
            for worker in workers:
                stop(worker)
        received = sink.count_by_recipient()
    assert set(received) == set(User.objects.filter(id__in=[f.id for f in fans]).values_list("email", flat=True))
    assert set(received.values()) == {1}
    results = list(deliveries())
    assert len(results) == 40
    assert all(len(result.worker_ids) == 1 for result in results)  # no job was taken twice
    by_worker = Counter(result.worker_ids[0] for result in results)
    print("jobs per worker:", dict(by_worker))


def finished_job(status: TaskResultStatus, *, days_ago: float) -> str:
    job_id = jobs.enqueue(flaky_jobs.flaky, f"{status}-{days_ago}")
    finished_at = timezone.now() - dt.timedelta(days=days_ago)
    DBTaskResult.objects.filter(id=job_id).update(status=status, started_at=finished_at, finished_at=finished_at)
    return job_id


@pytest.mark.django_db
def test_pruning_deletes_succeeded_results_after_their_days_and_failed_ones_after_longer(settings):
    settings.JOBS_KEEP_SUCCEEDED_DAYS = 14
    settings.JOBS_KEEP_FAILED_DAYS = 90
    finished_job(TaskResultStatus.SUCCESSFUL, days_ago=15)
    recent_success = finished_job(TaskResultStatus.SUCCESSFUL, days_ago=13)
    finished_job(TaskResultStatus.FAILED, days_ago=91)
    failure = finished_job(TaskResultStatus.FAILED, days_ago=15)
    waiting = jobs.enqueue(flaky_jobs.flaky, "later", run_after=timezone.now() + dt.timedelta(days=30))
    running = finished_job(TaskResultStatus.RUNNING, days_ago=100)
    DBTaskResult.objects.filter(id=running).update(finished_at=None)
    assert jobs.plan_pruning() is not None
    assert jobs.run_due() == 1
    kept = DBTaskResult.objects.exclude(task_path=jobs.prune_finished_jobs.module_path)
    assert {str(pk) for pk in kept.values_list("id", flat=True)} == {recent_success, failure, waiting, running}


@pytest.mark.django_db
def test_the_workers_keep_one_pruning_planned_every_period_after_the_last(settings):
    settings.JOBS_PRUNE_EVERY_HOURS = 24
    first = jobs.plan_pruning()
    assert first is not None
    assert jobs.plan_pruning() is None  # one waiting is enough
    assert jobs.run_due() == 1
    done = DBTaskResult.objects.get(id=first)
    assert done.status == TaskResultStatus.SUCCESSFUL
    planned = DBTaskResult.objects.get(id=jobs.plan_pruning())
    assert planned.status == TaskResultStatus.READY
    assert planned.run_after == done.finished_at + dt.timedelta(hours=24)
    assert jobs.run_due() == 0  # not due before then
    planned.delete()
    settings.JOBS_PRUNE_EVERY_HOURS = 0
    assert jobs.plan_pruning() is None


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_worker_process_prunes_old_results_on_its_own(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("a worker process shares a PostgreSQL database")
    old = finished_job(TaskResultStatus.SUCCESSFUL, days_ago=30)
    recent = finished_job(TaskResultStatus.SUCCESSFUL, days_ago=1)
    worker = start_worker({}, tmp_path / "worker.log")
    try:
        wait_until(lambda: not DBTaskResult.objects.filter(id=old).exists(), timeout=60)
        pruning = DBTaskResult.objects.filter(task_path=jobs.prune_finished_jobs.module_path)
        wait_until(lambda: pruning.filter(status=TaskResultStatus.READY).exists(), timeout=60)
    finally:
        stop(worker)
    assert DBTaskResult.objects.filter(id=recent).exists()
    assert pruning.filter(status=TaskResultStatus.SUCCESSFUL).count() == 1
    (next_one,) = pruning.filter(status=TaskResultStatus.READY)
    assert next_one.run_after > timezone.now() + dt.timedelta(hours=23)
