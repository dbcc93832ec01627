#!/usr/bin/env python3
"""``make prod-restart``: a rolling restart of the topology ``make prod`` runs, losing no request.

Reads the same settings as ``deploy/prod.py`` (environment and ``.env``) to find the run directory.

1. Unless ``--skip-prepare``: migrate and collect static files (new code's).
2. gunicorn: HUP. Its master keeps the listening socket, starts new workers with the new code and
   lets the old ones finish the requests they accepted (up to GUNICORN_GRACEFUL_TIMEOUT) before
   they exit: nginx never sees a refused connection. Waits until only new workers are left.
3. The ASGI workers, one at a time: supervisord stops one (SIGTERM: it closes its websockets and
   reports none of its viewers) and starts it again; nginx sends new handshakes to the others
   meanwhile, and the pages' script reconnects the dropped viewers with backoff. Waits until the
   restarted worker answers, then ``--pause`` seconds for its viewers to settle, then the next.
4. The job workers (if any): restarted; their queue is in the database, a job interrupted in the
   middle runs again (``project.jobs``: at least once).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from deploy.topology import (  # noqa: E402
    BIN,
    ROOT,
    ConfigError,
    Topology,
    children_of,
    load_environment,
    wait_for,
)


def say(message: str) -> None:
    print(f"[restart] {message}", flush=True)


class Supervisor:
    def __init__(self, topology: Topology) -> None:
        if not topology.supervisord_conf.exists():
            raise ConfigError(f"{topology.supervisord_conf} not found: is `make prod` running with these settings?")
        self.command = [str(BIN / "supervisorctl"), "--configuration", str(topology.supervisord_conf)]

    def run(self, *args: str) -> str:
        done = subprocess.run([*self.command, *args], capture_output=True, text=True, timeout=120)
        if done.returncode != 0:
            raise ConfigError(f"supervisorctl {' '.join(args)}: {done.stdout.strip()} {done.stderr.strip()}")
        return done.stdout.strip()

    def pid(self, program: str) -> int:
        output = self.run("pid", program)
        if not output.isdigit() or output == "0":
            raise ConfigError(f"{program} is not running ({output})")
        return int(output)

    def programs(self) -> list[str]:
        """``group:name`` of every process supervisord runs."""
        done = subprocess.run([*self.command, "status"], capture_output=True, text=True, timeout=60)
        return [line.split()[0] for line in done.stdout.splitlines() if line.strip()]


def restart_gunicorn(supervisor: Supervisor, workers: int, timeout: float) -> None:
    master = supervisor.pid("gunicorn")
    old = children_of(master)
    say(f"gunicorn: HUP to {master} (old workers {sorted(old)})")
    supervisor.run("signal", "HUP", "gunicorn")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = children_of(master)
        if current and not current & old and len(current) >= workers:
            say(f"gunicorn: new workers {sorted(current)}")
            return
        time.sleep(0.2)
    raise ConfigError(f"gunicorn: old workers still running after {timeout:.0f} s: {sorted(children_of(master) & old)}")


def restart_asgi(supervisor: Supervisor, topology: Topology, pause: float) -> None:
    for index, port in enumerate(topology.asgi_ports):
        program = topology.asgi_program(index)
        say(f"{program} (:{port}): restarting")
        supervisor.run("restart", program)
        if not wait_for(f"http://127.0.0.1:{port}/api/health/live/", timeout=60):
            raise ConfigError(f"{program} does not answer on :{port} after its restart")
        say(f"{program} (:{port}): answering again")
        if index < len(topology.asgi_ports) - 1:
            time.sleep(pause)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env")
    parser.add_argument("--skip-prepare", action="store_true", help="no migrate / collectstatic first")
    parser.add_argument(
        "--pause", type=float, default=5.0, help="seconds between two ASGI workers (viewers reconnect meanwhile)"
    )
    args = parser.parse_args()
    try:
        env = load_environment(args.env_file)
        topology = Topology.from_env(env)
        env = topology.process_environment(env)
        supervisor = Supervisor(topology)
        if not args.skip_prepare:
            for command in (["migrate", "--noinput"], ["collectstatic", "--noinput", "--verbosity", "0"]):
                say("manage.py " + " ".join(command))
                subprocess.run([str(BIN / "python"), str(ROOT / "manage.py"), *command], cwd=ROOT, env=env, check=True)
        graceful = float(env.get("GUNICORN_GRACEFUL_TIMEOUT") or 20)
        restart_gunicorn(supervisor, topology.gunicorn_workers, timeout=graceful + 30)
        restart_asgi(supervisor, topology, args.pause)
        jobs = [name for name in supervisor.programs() if name.startswith("jobs:")]
        if jobs:
            say("job workers: restarting")
            supervisor.run("restart", "jobs:*")
    except (ConfigError, subprocess.CalledProcessError) as error:
        say(f"failed: {error}")
        return 1
    say("done")
    return 0


if __name__ == "__main__":
    sys.exit(main())
