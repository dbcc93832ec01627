#!/usr/bin/env python3
"""``make prod``: one machine's whole production topology in one command, in the foreground.

1. Reads the settings from the environment and ``.env`` (the environment wins); refuses to start
   without PostgreSQL (DATABASE_URL) and Redis (REDIS_URL), or on a port already taken.
2. Migrates the database and collects the static files.
3. Renders nginx's and supervisord's configuration from ``deploy/*.template`` into PROD_RUN_DIR
   (default ``var/prod``) and checks nginx's with ``nginx -t``.
4. Starts ``supervisord -n``, which starts and watches: gunicorn (REST, pages, admin), ASGI_WORKERS
   uvicorn processes (websockets, one port each), JOB_WORKERS background-job workers, and nginx in
   front (PROD_BIND:PROD_PORT) as a non-daemon child with its pid, logs and temp files in the run
   directory.
5. Says it is up only once the readiness probe answers 200 through nginx and every ASGI worker
   answers; gives up (and stops everything) after PROD_START_TIMEOUT seconds.
6. On Ctrl-C or SIGTERM stops everything it started and exits; if this script is killed outright,
   the kernel sends supervisord SIGTERM (PR_SET_PDEATHSIG), which stops the rest.

Rolling restart of a running topology: ``deploy/restart.py`` (``make prod-restart``).
"""

from __future__ import annotations

import argparse
import ctypes
import signal
import socket
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
    has_job_worker,
    http_status,
    load_environment,
    nginx_binary,
    nginx_conf,
    nginx_proxy_conf,
    supervisord_conf,
)

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the parent (this script) dies, however it dies."""
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def say(message: str) -> None:
    print(f"[prod] {message}", flush=True)


def require_production_services(env: dict[str, str]) -> None:
    if not env.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        raise ConfigError("DATABASE_URL must name a PostgreSQL database (postgres://...): see .env.example")
    if not env.get("REDIS_URL"):
        raise ConfigError(
            "REDIS_URL must be set: the ASGI workers share the live audience through Redis (see .env.example)"
        )


def require_free_ports(topology: Topology) -> None:
    named = {"PROD_PORT": (topology.bind, topology.port), "GUNICORN_PORT": ("127.0.0.1", topology.gunicorn_port)}
    for index, port in enumerate(topology.asgi_ports):
        named[f"ASGI_PORT+{index}"] = ("127.0.0.1", port)
    for name, (host, port) in named.items():
        with socket.socket(socket.AF_INET6 if host.startswith("[") else socket.AF_INET) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind((host.strip("[]"), port))
            except OSError as error:
                raise ConfigError(f"{name}: {host}:{port} is not free ({error.strerror})") from None


def manage(env: dict[str, str], *args: str) -> None:
    say("manage.py " + " ".join(args))
    subprocess.run([str(BIN / "python"), str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True)


def write_configuration(topology: Topology) -> None:
    for directory in (topology.run_dir, topology.log_dir, topology.run_dir / "nginx-temp"):
        directory.mkdir(parents=True, exist_ok=True)
    (topology.run_dir / "nginx.conf").write_text(nginx_conf(topology))
    (topology.run_dir / "proxy_to_gunicorn.conf").write_text(nginx_proxy_conf(topology))
    topology.supervisord_conf.write_text(supervisord_conf(topology))
    check = subprocess.run(
        [nginx_binary(), "-t", "-q", "-p", str(topology.run_dir), "-c", str(topology.run_dir / "nginx.conf")]
        + ["-e", str(topology.log_dir / "nginx-error.log")],
        capture_output=True,
        text=True,
    )
    if check.returncode != 0:
        raise ConfigError("nginx refused the rendered configuration:\n" + check.stderr)


def wait_until_up(topology: Topology, supervisor: subprocess.Popen) -> bool:
    """True once readiness answers 200 through nginx and every ASGI worker answers directly."""
    probes = [f"{topology.url}/api/health/ready/"]
    probes += [f"http://127.0.0.1:{port}/api/health/live/" for port in topology.asgi_ports]
    deadline = time.monotonic() + topology.start_timeout
    pending = list(probes)
    while pending and time.monotonic() < deadline:
        if supervisor.poll() is not None:
            return False
        pending = [url for url in pending if http_status(url) != 200]
        if pending:
            time.sleep(0.25)
    return not pending


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env-file", type=Path, default=ROOT / ".env", help="default: .env beside the Makefile")
    parser.add_argument("--check", action="store_true", help="render and check the configuration, start nothing")
    args = parser.parse_args()

    try:
        env = load_environment(args.env_file)
        topology = Topology.from_env(env)
        env = topology.process_environment(env)
        require_production_services(env)
        if args.check:
            write_configuration(topology)
            say(f"configuration OK: {topology.run_dir}")
            return 0
        require_free_ports(topology)
        manage(env, "migrate", "--noinput")
        manage(env, "collectstatic", "--noinput", "--verbosity", "0")
        write_configuration(topology)
    except ConfigError as error:
        say(f"cannot start: {error}")
        return 2
    except subprocess.CalledProcessError as error:
        say(f"cannot start: {' '.join(map(str, error.cmd))} failed with exit code {error.returncode}")
        return 2

    supervisor = subprocess.Popen(
        [str(BIN / "supervisord"), "--nodaemon", "--configuration", str(topology.supervisord_conf)],
        cwd=ROOT,
        env=env,
        preexec_fn=_die_with_parent,  # noqa: PLW1509 - only prctl, no Python state touched
    )
    stopping = False

    def stop(signum: int, _frame: object) -> None:
        nonlocal stopping
        if not stopping:
            say(f"{signal.Signals(signum).name}: stopping everything")
        stopping = True
        if supervisor.poll() is None:
            supervisor.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGHUP, stop)

    if wait_until_up(topology, supervisor):
        ports = ", ".join(f":{port}" for port in topology.asgi_ports)
        jobs = topology.job_workers if has_job_worker() else "none in this checkout"
        say(
            f"Aperture is up on {topology.url}/ (nginx) - gunicorn :{topology.gunicorn_port} "
            f"{topology.gunicorn_workers}x{topology.gunicorn_threads}, ASGI workers {ports}, "
            f"job workers: {jobs}; logs in {topology.log_dir}. Ctrl-C stops it."
        )
    elif not stopping:
        status = http_status(f"{topology.url}/api/health/ready/")
        say(
            f"not up after {topology.start_timeout} s (readiness through nginx: {status}); "
            f"stopping. See {topology.log_dir}."
        )
        stop(signal.SIGTERM, None)
        supervisor.wait()
        return 1
    code = supervisor.wait()
    if stopping:
        say("stopped")
        return 0
    say(f"supervisord exited unexpectedly (code {code}); see {topology.log_dir}")
    return 1


if __name__ == "__main__":
    sys.exit(main())
