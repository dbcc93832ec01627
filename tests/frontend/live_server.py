"""A real ASGI server (uvicorn in a subprocess) on the test database, for browser tests.

The server must see the test's data, so use ``transaction=True`` (the data is committed) and the
server connects to the test database itself: PostgreSQL's, or SQLite's file (tests/conftest.py
makes it a file). Should the SQLite test database live in this process's memory after all, it is
copied into a file for the server; the server's writes then stay in that copy."""

import os
import queue
import re
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from django.conf import settings
from django.db import connection

STARTUP_TIMEOUT_SECONDS = 30
_RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


def server_database_url(tmp_path: Path) -> str:
    """A DATABASE_URL under which a separate process sees what this test has committed."""
    db = connection.settings_dict
    if connection.vendor == "sqlite" and not connection.is_in_memory_db():
        return f"sqlite:///{db['NAME']}"
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        target = tmp_path / "server.sqlite3"
        copy = sqlite3.connect(target)
        try:
            connection.connection.backup(copy)
        finally:
            copy.close()
        return f"sqlite:///{target}"
    if connection.vendor == "postgresql":
        credentials = quote(db["USER"] or "", safe="")
        if db.get("PASSWORD"):
            credentials += ":" + quote(db["PASSWORD"], safe="")
        host = db.get("HOST") or "127.0.0.1"
        port = db.get("PORT") or 5432
        return f"postgres://{credentials}@{host}:{port}/{db['NAME']}"
    raise RuntimeError(f"No live server for database vendor {connection.vendor!r}")


@contextmanager
def asgi_server(database_url: str, extra_env: dict[str, str] | None = None, port: int = 0) -> Iterator[str]:
    """Runs ``project.asgi`` under uvicorn on 127.0.0.1 and a free port (or ``port``, e.g. to restart
    a server where its clients expect it); yields its base URL."""
    env = dict(os.environ)
    env.update(
        {
            "DATABASE_URL": database_url,
            "DB_CONN_MAX_AGE": "0",
            "DJANGO_SETTINGS_MODULE": "project.settings",
            # Lift the API throttles: a browser test is one user clicking fast.
            "THROTTLE_ANON": "",
            "THROTTLE_USER": "",
            "THROTTLE_LOGIN": "",
            "THROTTLE_SIGNUP": "",
            "THROTTLE_PRIORITY_CODE": "",
            # The same hashers as the tests (they use a fast one), so factory passwords work.
            "DJANGO_PASSWORD_HASHERS": ",".join(settings.PASSWORD_HASHERS),
            "PYTHONUNBUFFERED": "1",
            # On Redis, live figures of earlier tests' servers must not leak into this one.
            "PRESENCE_REDIS_PREFIX": f"test-{uuid.uuid4().hex}:presence",
        }
    )
    env.update(extra_env or {})
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "project.asgi:application", "--host", "127.0.0.1", "--port", str(port)]
        + ["--lifespan", "on", "--log-level", "info", "--no-access-log", "--timeout-graceful-shutdown", "2"],
        cwd=settings.BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    output: list[str] = []

    def drain() -> None:  # keeps the pipe from filling up while the server runs
        assert process.stderr is not None
        for line in process.stderr:
            output.append(line)
            lines.put(line)

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        base_url = None
        while base_url is None:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or process.poll() is not None:
                raise RuntimeError("uvicorn did not start:\n" + "".join(output))
            try:
                match = _RUNNING.search(lines.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue
            if match:
                base_url = match.group(1)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        reader.join(timeout=5)
        if process.stderr is not None:
            process.stderr.close()
