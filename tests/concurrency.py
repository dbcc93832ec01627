"""Running jobs at the same instant on real threads, each with its own database connection."""

import os
import threading
from collections.abc import Callable, Sequence
from typing import Any

from django.db import connection

# The PostgreSQL server is shared (100 connections in all); more threads than this wait for a slot.
MAX_CONNECTIONS = int(os.environ.get("CONCURRENCY_TEST_CONNECTIONS", "40"))
JOIN_TIMEOUT = 120  # seconds; every thread is bounded


def run_concurrently(
    jobs: Sequence[Callable[[], Any]], *, max_connections: int = MAX_CONNECTIONS, timeout: float = JOIN_TIMEOUT
) -> list[Any]:
    """One thread per job, released together by a barrier; each result (or the exception it raised)
    in job order. Each thread closes its own connection when done."""
    barrier = threading.Barrier(len(jobs))
    slots = threading.BoundedSemaphore(max_connections)
    results: list[Any] = [None] * len(jobs)

    def worker(index: int, job: Callable[[], Any]) -> None:
        try:
            barrier.wait(timeout=timeout)
            with slots:
                try:
                    results[index] = job()
                finally:
                    connection.close()
        except Exception as exc:  # noqa: BLE001 - reported through results
            results[index] = exc

    threads = [threading.Thread(target=worker, args=(i, job), daemon=True) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in time"
    return results
