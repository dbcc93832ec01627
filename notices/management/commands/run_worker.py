"""``manage.py run_worker``: one background-job worker (django-tasks' database worker).

It runs the framework's worker in batch mode (take a due job with ``SELECT ... FOR UPDATE SKIP
LOCKED``, run it, record it; until none is due), then waits ``--interval`` seconds and looks again.
Between batches it makes stalled jobs ready again (``project.jobs.recover_stalled``: a worker that
was killed mid-job leaves its job RUNNING) and keeps the pruning of finished results planned in the
queue (``project.jobs.plan_pruning``). SIGTERM/SIGINT: finishes the job in hand, then exits.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils.crypto import get_random_string

from project import jobs


class Command(BaseCommand):
    help = "Run a background-job worker (several may run at once, on any machine sharing the database)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--interval", type=float, default=1.0, help="Seconds to wait when no job is due.")
        parser.add_argument("--max-batch", type=int, default=50, help="Jobs run before looking for stalled jobs again.")

    def handle(self, *args: Any, interval: float, max_batch: int, **options: Any) -> None:
        # The framework logs each batch's start and end and each job's states: shown with -v 2; failures always.
        level = logging.DEBUG if options["verbosity"] > 1 else logging.WARNING
        for name in ("django_tasks_db", "django_tasks"):
            logging.getLogger(name).setLevel(level)
        worker_id = get_random_string(12)
        self.stdout.write(f"job worker {worker_id} started")
        recover_every = max(1.0, min(30.0, jobs.stale_seconds() / 3))
        next_recovery = 0.0
        while True:
            if time.monotonic() >= next_recovery:
                jobs.recover_stalled()
                jobs.plan_pruning()
                next_recovery = time.monotonic() + recover_every
            worker = jobs.new_worker(worker_id=worker_id, max_tasks=max_batch)
            # The framework's handlers: finish the job in hand on SIGTERM/SIGINT, exit at once when idle.
            worker.configure_signals()
            worker.run()
            if not worker.running:
                return
            if worker._run_tasks == 0:
                time.sleep(interval)
