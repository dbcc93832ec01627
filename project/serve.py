"""``python -m project.serve``: the demo's one command - the ASGI server (uvicorn) and one
background-job worker (``manage.py run_worker``), each in its own process. Ctrl-C (or SIGTERM)
stops both; if either exits, the other is stopped too.

Usage: ``python -m project.serve [--host 127.0.0.1] [--port 8000]`` (``make demo`` runs it).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
UVICORN_OPTIONS = ["--lifespan", "on", "--ws-per-message-deflate", "false"]


def commands(host: str, port: int) -> dict[str, list[str]]:
    python = sys.executable
    return {
        "web": [python, "-m", "uvicorn", "project.asgi:application", "--host", host, "--port", str(port)]
        + UVICORN_OPTIONS,
        "worker": [python, str(ROOT / "manage.py"), "run_worker"],
    }


def environment(host: str, port: int) -> dict[str, str]:
    """Without SITE_URL, pages link to the address each request came to; the worker's emails, which
    have no request, link to the address served here (project/site.py)."""
    env = dict(os.environ)
    if not env.get("SITE_URL"):
        shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a name, not a bind
        env.setdefault("SITE_URL_FALLBACK", f"http://{shown}:{port}")
    return env


def _stop(processes: dict[str, subprocess.Popen], timeout: float = 15.0) -> None:
    for process in processes.values():
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + timeout
    for process in processes.values():
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    stopping = False

    def request_stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    processes = {
        # Own process groups: the terminal's Ctrl-C reaches this process only, which stops both in order.
        name: subprocess.Popen(command, cwd=ROOT, env=environment(args.host, args.port), start_new_session=True)  # noqa: S603
        for name, command in commands(args.host, args.port).items()
    }
    try:
        while not stopping and all(process.poll() is None for process in processes.values()):
            time.sleep(0.2)
    finally:
        _stop(processes)
    exited = [name for name, process in processes.items() if process.returncode not in (0, -signal.SIGTERM)]
    return 1 if exited and not stopping else 0


if __name__ == "__main__":
    sys.exit(main())
