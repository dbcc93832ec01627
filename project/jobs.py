"""Background jobs on django-tasks with its database backend (``django_tasks_db``).

Why this backend: ``enqueue`` inserts the job row through the caller's database connection, so a job
enqueued inside a transaction commits with the change that caused it, and a rolled-back change
leaves no job behind (no broker, and nothing to lose between a commit and a publish). Workers
(``manage.py run_worker``) take jobs with ``SELECT ... FOR UPDATE SKIP LOCKED`` on PostgreSQL, so
several share the queue without running a job twice; a job due later waits in its row
(``run_after``).

What this module adds to the framework:
- ``job``: declares a task whose failure is kept (the failed row keeps its traceback) and retried
  with exponential backoff as a new row (``JOBS_RETRY_BASE_SECONDS`` .. ``JOBS_RETRY_MAX_SECONDS``),
  forever: a job is never dropped.
- ``enqueue``: enqueue now or at a time, in the caller's transaction.
- ``recover_stalled``: a worker killed in the middle of a job leaves its row RUNNING; after
  ``JOBS_STALE_SECONDS`` the row is made READY again and another worker runs it. A job may therefore
  run twice (never zero times): jobs are written to be idempotent.
- ``run_due``: runs the due jobs now, in this process, through the framework's worker (tests, and
  the worker command's loop).
- ``prune_finished_jobs``: a job that deletes finished results through the framework's
  ``prune_db_task_results`` (succeeded ones after ``JOBS_KEEP_SUCCEEDED_DAYS``, failed ones, with
  their tracebacks, after ``JOBS_KEEP_FAILED_DAYS``); ``plan_pruning``, called by every worker
  between batches, keeps one such job waiting in the queue, due ``JOBS_PRUNE_EVERY_HOURS`` after
  the last one finished.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar
from unittest import mock

from django.conf import settings
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import get_random_string
from django_tasks import task
from django_tasks.base import Task, TaskResultStatus
from django_tasks_db.management.commands import db_worker
from django_tasks_db.models import DBTaskResult

logger = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

ATTEMPT_KWARG = "_attempt"


def retry_delay(attempt: int) -> dt.timedelta:
    """Backoff before retry number ``attempt`` (1 = the first retry): base, 2 x base, 4 x base ...
    up to the maximum."""
    base = float(settings.JOBS_RETRY_BASE_SECONDS)
    seconds = min(float(settings.JOBS_RETRY_MAX_SECONDS), base * 2 ** max(attempt - 1, 0))
    return dt.timedelta(seconds=seconds)


def job(function: Callable[P, T] | None = None, *, priority: int = 0, queue_name: str = "default") -> Any:
    """Declare a background job (use as ``@job``). Arguments must be JSON values.

    If the function raises, the job's row is marked FAILED with the error, and a retry is enqueued
    as a new row after the backoff; the retry count travels as the ``_attempt`` keyword."""

    def declare(func: Callable[P, T]) -> Task:
        @functools.wraps(func)
        def run(*args: Any, **kwargs: Any) -> Any:
            attempt = int(kwargs.pop(ATTEMPT_KWARG, 1))
            try:
                return func(*args, **kwargs)
            except Exception:
                retry_at = timezone.now() + retry_delay(attempt)
                logger.exception("job %s failed (attempt %s); retrying at %s", func.__name__, attempt, retry_at)
                with transaction.atomic():
                    declared.using(run_after=retry_at).enqueue(*args, **kwargs, **{ATTEMPT_KWARG: attempt + 1})
                raise

        declared: Task = task(priority=priority, queue_name=queue_name)(run)
        return declared

    return declare(function) if function is not None else declare


def enqueue(declared: Task, *args: Any, run_after: dt.datetime | None = None, **kwargs: Any) -> str:
    """Enqueue ``declared`` in the caller's transaction (the row commits or rolls back with it);
    ``run_after``: not before this time. Returns the job id."""
    if run_after is not None:
        declared = declared.using(run_after=run_after)
    return str(declared.enqueue(*args, **kwargs).id)


def stale_seconds() -> float:
    return float(settings.JOBS_STALE_SECONDS)


def recover_stalled(*, older_than: dt.timedelta | None = None) -> int:
    """Make READY again the jobs that were started longer ago than ``older_than`` (default
    ``JOBS_STALE_SECONDS``) and never finished: their worker died. Returns how many."""
    if older_than is None:
        older_than = dt.timedelta(seconds=settings.JOBS_STALE_SECONDS)
    cutoff = timezone.now() - older_than
    count = DBTaskResult.objects.filter(status=TaskResultStatus.RUNNING, started_at__lt=cutoff).update(
        status=TaskResultStatus.READY
    )
    if count:
        logger.warning("%s stalled job(s) made ready again (their worker stopped mid-job)", count)
    return count


def new_worker(*, worker_id: str | None = None, max_tasks: int | None = None) -> db_worker.Worker:
    """The framework's database worker, set to run the due jobs and return (batch mode)."""
    return db_worker.Worker(
        queue_names=["*"],
        interval=0,
        batch=True,
        backend_name="default",
        startup_delay=False,
        max_tasks=max_tasks,
        worker_id=worker_id or get_random_string(32),
        excluded_queue_names=[],
    )


def run_due(*, raise_failures: bool = True) -> int:
    """Run every job that is due now, in this process, through the framework's worker; jobs that
    these enqueue and that are due run too. Returns how many ran.

    Inside a transaction (a test's), the worker's ``close_old_connections`` would close the
    connection under it; it is skipped there (there is nothing to recycle in one transaction).
    ``raise_failures``: raise if a job failed (its traceback in the message)."""
    started = timezone.now()
    worker = new_worker()
    if transaction.get_connection().in_atomic_block:
        with mock.patch.object(db_worker, "close_old_connections", lambda: None):
            worker.run()
    else:
        worker.run()
    if raise_failures:
        recent = DBTaskResult.objects.failed().filter(finished_at__gte=started)
        failed = [result for result in recent if worker.worker_id in result.worker_ids]
        if failed:
            raise AssertionError("job(s) failed:\n" + "\n".join(r.traceback for r in failed))
    return worker._run_tasks


@job
def prune_finished_jobs() -> None:
    """Delete finished job results: succeeded ones finished more than ``JOBS_KEEP_SUCCEEDED_DAYS``
    ago, failed ones more than ``JOBS_KEEP_FAILED_DAYS`` ago (a retry is a row of its own and is
    never touched; waiting and running jobs neither). The framework's command does it and logs the
    number deleted."""
    call_command(
        "prune_db_task_results",
        queue_name="*",
        min_age_days=int(settings.JOBS_KEEP_SUCCEEDED_DAYS),
        failed_min_age_days=int(settings.JOBS_KEEP_FAILED_DAYS),
        verbosity=1,
    )


def plan_pruning() -> str | None:
    """Make sure one ``prune_finished_jobs`` is waiting in the queue: if none is waiting or running,
    enqueue one due ``JOBS_PRUNE_EVERY_HOURS`` after the last one finished (now, the first time).
    Every worker calls this between batches, so the schedule lives in the queue and survives any
    worker; two workers planning at the same instant make two prunings, which run once each (both
    harmless) before the next check plans one again. ``JOBS_PRUNE_EVERY_HOURS`` 0: never. Returns
    the id of the job it enqueued, if any."""
    every = float(settings.JOBS_PRUNE_EVERY_HOURS)
    if every <= 0:
        return None
    path = prune_finished_jobs.module_path
    pending = DBTaskResult.objects.filter(task_path=path, status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING])
    if pending.exists():
        return None
    last = (
        DBTaskResult.objects.filter(task_path=path, finished_at__isnull=False)
        .order_by("-finished_at")
        .values_list("finished_at", flat=True)
        .first()
    )
    now = timezone.now()
    due = now if last is None else max(now, last + dt.timedelta(hours=every))
    return enqueue(prune_finished_jobs, run_after=due)
