"""The production topology of ``make prod`` (deploy/prod.py), started for a test on free ports.

The test's database (PostgreSQL, committed data: ``transaction=True``) and Redis database are the
topology's; everything else is deploy/prod.py's own doing: migrate, collectstatic, nginx and
supervisord configuration rendered into a fresh run directory, gunicorn, the ASGI workers, the job
workers and nginx under supervisord. ``stop()`` sends SIGTERM, as an operator's Ctrl-C would, and
reports every process of the topology that is still alive afterwards.
"""

from __future__ import annotations

import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

from django.conf import settings

from deploy.topology import descendants_of

STARTUP_TIMEOUT_SECONDS = 180
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def nginx_installed() -> bool:
    return Path(NGINX).exists()


def free_ports(count: int) -> int:
    """The first of ``count`` consecutive free loopback ports (the ASGI workers' are consecutive)."""
    for _ in range(200):
        first = random.randint(20000, 59000)
        sockets = []
        try:
            for port in range(first, first + count):
                probe = socket.socket()
                sockets.append(probe)
                probe.bind(("127.0.0.1", port))
            return first
        except OSError:
            continue
        finally:
            for probe in sockets:
                probe.close()
    raise RuntimeError("no free ports")


def processes_with_environment(marker: str) -> set[int]:
    """Every process whose environment holds ``marker`` (all of a topology's share its run dir)."""
    found = set()
    needle = marker.encode()
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in environ.read_bytes():
                found.add(int(environ.parent.name))
        except OSError:
            continue
    found.discard(os.getpid())
    return found


class Production:
    def __init__(self, *, database_url: str, env: dict[str, str] | None = None, asgi_workers: int = 2) -> None:
        # nginx's workers run as an unprivileged user: its run and static directories must be
        # readable by others (pytest's tmp_path is not).
        self.dir = Path(tempfile.mkdtemp(prefix="aperture-prod-"))
        self.dir.chmod(0o755)
        self.port = free_ports(1)
        self.gunicorn_port = free_ports(1)
        first_asgi = free_ports(asgi_workers)
        self.asgi_ports = [first_asgi + i for i in range(asgi_workers)]
        self.marker = f"PROD_RUN_DIR={self.dir / 'run'}"
        self.env = dict(os.environ)
        for name in ("PYTEST_XDIST_WORKER", "PYTEST_XDIST_TESTRUNUID", "PYTEST_CURRENT_TEST"):
            self.env.pop(name, None)
        self.env.update(
            {
                "DATABASE_URL": database_url,
                "REDIS_URL": settings.REDIS_URL,
                "REDIS_PREFIX": f"test-prod-{uuid.uuid4().hex}",
                "PRESENCE_REDIS_PREFIX": f"test-prod-{uuid.uuid4().hex}:presence",
                "PROD_PORT": str(self.port),
                "GUNICORN_PORT": str(self.gunicorn_port),
                "ASGI_PORT": str(first_asgi),
                "ASGI_WORKERS": str(asgi_workers),
                "ASGI_DB_POOL_MAX_SIZE": "4",
                "NGINX_WORKERS": "1",
                "PROD_RUN_DIR": str(self.dir / "run"),
                "STATIC_ROOT": str(self.dir / "static"),
                "GUNICORN_ACCESS_LOG": "true",
                # The tests' fast hasher, so factory passwords work and signups are quick.
                "DJANGO_PASSWORD_HASHERS": ",".join(settings.PASSWORD_HASHERS),
                "THROTTLE_ANON": "",
                "THROTTLE_USER": "",
                "THROTTLE_LOGIN": "",
                "THROTTLE_SIGNUP": "",
                "THROTTLE_PRIORITY_CODE": "",
                "LOG_LEVEL": "WARNING",
                # The test's viewers all come from 127.0.0.1, each with its own signed browser id
                # (tests/deploy/viewers.py), so the per-address cap is lifted and the key shared.
                "WS_MAX_SOCKETS_PER_ADDRESS": "10000",
                "DJANGO_SECRET_KEY": settings.SECRET_KEY,
            }
        )
        self.env.update(env or {})
        self.output: list[str] = []
        self.pids: set[int] = set()
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    @property
    def log_dir(self) -> Path:
        return self.dir / "run" / "logs"

    def start(self) -> Production:
        self.process = subprocess.Popen(
            [sys.executable, str(settings.BASE_DIR / "deploy" / "prod.py"), "--env-file", str(self.dir / "no.env")],
            cwd=settings.BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: queue.Queue[str] = queue.Queue()

        def drain() -> None:
            assert self.process is not None and self.process.stdout is not None
            for line in self.process.stdout:
                self.output.append(line)
                lines.put(line)

        self._reader = threading.Thread(target=drain, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("make prod did not come up:\n" + "".join(self.output) + self.logs())
            try:
                line = lines.get(timeout=min(remaining, 0.5))
            except queue.Empty:
                continue
            if "Aperture is up" in line:
                break
        self.remember_processes()
        return self

    def remember_processes(self) -> None:
        """Notes every process of the topology now (call again after a restart replaced some)."""
        assert self.process is not None
        self.pids |= descendants_of(self.process.pid) | {self.process.pid}

    def supervisorctl(self, *args: str) -> str:
        done = subprocess.run(
            [
                str(Path(sys.executable).parent / "supervisorctl"),
                "-c",
                str(self.dir / "run" / "supervisord.conf"),
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        return done.stdout.strip()

    def pid_of(self, program: str) -> int:
        return int(self.supervisorctl("pid", program))

    def gunicorn_access_pids(self, needle: str) -> set[str]:
        """The gunicorn worker pids that served requests whose log line contains ``needle``."""
        text = (self.log_dir / "gunicorn.log").read_text()
        return {line.split()[0] for line in text.splitlines() if line.startswith("pid=") and needle in line}

    def logs(self) -> str:
        parts = []
        for log in sorted(self.log_dir.glob("*.log")) if self.log_dir.exists() else []:
            parts.append(f"\n--- {log.name} (last lines) ---\n" + "\n".join(log.read_text().splitlines()[-30:]))
        return "".join(parts)

    def stop(self, timeout: float = 90) -> set[int]:
        """SIGTERM to ``make prod``; returns the topology's processes still alive afterwards."""
        if self.process is not None and self.process.poll() is None:
            self.remember_processes()
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                pass
        if hasattr(self, "_reader"):
            self._reader.join(timeout=5)
        if self.process is not None and self.process.stdout is not None and not self._reader.is_alive():
            self.process.stdout.close()
        alive = {pid for pid in self.pids if Path(f"/proc/{pid}").exists() and not _is_zombie(pid)}
        alive |= processes_with_environment(self.marker)
        return alive

    def kill_leftovers(self, pids: set[int]) -> None:
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def remove_files(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"


def port_answers(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(("127.0.0.1", port)) == 0
