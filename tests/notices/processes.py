"""Real worker processes (``manage.py run_worker``) against the test database (PostgreSQL)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def test_database_url() -> str:
    """The URL of the database this test runs in (pytest-django's ``test_...``)."""
    conf = connection.settings_dict
    auth = conf["USER"] + (f":{conf['PASSWORD']}" if conf.get("PASSWORD") else "")
    return f"postgres://{auth}@{conf['HOST'] or '127.0.0.1'}:{conf['PORT'] or 5432}/{conf['NAME']}"


def start_worker(extra_env: dict[str, str], log: Path) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": test_database_url(), "PYTHONUNBUFFERED": "1", **extra_env}
    env.pop("REDIS_URL", None)
    with log.open("w") as handle:  # the child keeps its own descriptor
        return subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, str(ROOT / "manage.py"), "run_worker", "--interval", "0.1"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )


def stop(process: subprocess.Popen, timeout: float = 30) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
