"""The production topology of one machine, from environment variables (and an ``.env`` file).

Shared by ``deploy/prod.py`` (start everything) and ``deploy/restart.py`` (rolling restart), so that
both read the same settings the same way. Nothing here imports Django: these scripts start and
watch the Django processes, they do not run Django themselves.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
# The virtual environment's bin directory: the scripts run under its python.
BIN = Path(sys.executable).parent

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PLACEHOLDER = re.compile(r"@([a-z_]+)@")


class ConfigError(Exception):
    """A setting is missing or wrong; the message says which and what to do."""


def read_env_file(path: Path) -> dict[str, str]:
    """``NAME=value`` lines; blank lines, ``#`` comments and a leading ``export`` are allowed, and a
    value may be wrapped in single or double quotes. Anything else is an error naming the line."""
    values: dict[str, str] = {}
    for number, raw in enumerate(path.read_text().splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line.removeprefix("export ").lstrip()
        name, sep, value = line.partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not _NAME.fullmatch(name):
            raise ConfigError(f"{path}:{number}: expected NAME=value, got {raw!r}")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[name] = value
    return values


def load_environment(env_file: Path | None) -> dict[str, str]:
    """The environment for every process: the ``.env`` file's values, overridden by the real
    environment (so ``FOO=1 make prod`` wins over the file)."""
    merged: dict[str, str] = {}
    if env_file is not None and env_file.exists():
        merged.update(read_env_file(env_file))
    merged.update(os.environ)
    return merged


def _int(env: dict[str, str], name: str, default: int, minimum: int = 0) -> int:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


@dataclass(frozen=True)
class Topology:
    """Where everything listens and how many of each. Defaults suit a 2-core machine."""

    bind: str  # nginx's address (PROD_BIND)
    port: int  # nginx's port: the front door (PROD_PORT)
    gunicorn_port: int
    gunicorn_workers: int
    gunicorn_threads: int
    asgi_ports: tuple[int, ...]
    asgi_pool_size: int
    job_workers: int
    nginx_workers: str
    nginx_worker_connections: int
    max_body: str
    proxy_timeout: int
    ws_timeout: int
    forwarded_proto: str
    run_dir: Path
    static_root: Path
    start_timeout: int

    @classmethod
    def from_env(cls, env: dict[str, str]) -> Topology:
        asgi_workers = _int(env, "ASGI_WORKERS", 2, minimum=1)
        asgi_port = _int(env, "ASGI_PORT", 8002, minimum=1)
        topology = cls(
            bind=env.get("PROD_BIND") or "127.0.0.1",
            port=_int(env, "PROD_PORT", 8080, minimum=1),
            gunicorn_port=_int(env, "GUNICORN_PORT", 8001, minimum=1),
            gunicorn_workers=_int(env, "GUNICORN_WORKERS", 4, minimum=1),
            gunicorn_threads=_int(env, "GUNICORN_THREADS", 2, minimum=1),
            asgi_ports=tuple(asgi_port + i for i in range(asgi_workers)),
            asgi_pool_size=_int(env, "ASGI_DB_POOL_MAX_SIZE", 10, minimum=1),
            job_workers=_int(env, "JOB_WORKERS", 1, minimum=0),
            nginx_workers=env.get("NGINX_WORKERS") or "auto",
            nginx_worker_connections=_int(env, "NGINX_WORKER_CONNECTIONS", 4096, minimum=64),
            max_body=env.get("PROD_MAX_BODY") or "10m",
            proxy_timeout=_int(env, "PROD_PROXY_TIMEOUT", 60, minimum=1),
            ws_timeout=_int(env, "PROD_WS_TIMEOUT", 3600, minimum=1),
            forwarded_proto=env.get("NGINX_FORWARDED_PROTO") or "$scheme",
            run_dir=Path(env.get("PROD_RUN_DIR") or ROOT / "var" / "prod").resolve(),
            static_root=Path(env.get("STATIC_ROOT") or ROOT / "staticfiles").resolve(),
            start_timeout=_int(env, "PROD_START_TIMEOUT", 90, minimum=1),
        )
        ports = [topology.port, topology.gunicorn_port, *topology.asgi_ports]
        if len(set(ports)) != len(ports):
            raise ConfigError(f"PROD_PORT, GUNICORN_PORT and the ASGI ports must differ, got {ports}")
        return topology

    @property
    def log_dir(self) -> Path:
        return self.run_dir / "logs"

    @property
    def probe_host(self) -> str:
        """Where this machine reaches nginx (a wildcard bind is reached on loopback)."""
        if self.bind in {"0.0.0.0", "*", ""}:  # noqa: S104 - reading the setting, not binding
            return "127.0.0.1"
        if self.bind == "[::]":
            return "[::1]"
        return self.bind

    @property
    def url(self) -> str:
        return f"http://{self.probe_host}:{self.port}"

    @property
    def supervisord_conf(self) -> Path:
        return self.run_dir / "supervisord.conf"

    def asgi_program(self, index: int) -> str:
        """supervisord's name of the index-th ASGI worker (0-based), as supervisorctl takes it."""
        return f"asgi:asgi_{index + 1}"

    def process_environment(self, env: dict[str, str]) -> dict[str, str]:
        """What every process gets on top of ``env``: production defaults the operator did not set."""
        result = dict(env)
        result.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
        result.setdefault("DJANGO_DEBUG", "false")
        # nginx is the one proxy in front whose X-Forwarded-For the per-address throttles trust.
        result.setdefault("NUM_PROXIES", "1")
        result.setdefault("SITE_URL", self.url)
        result["STATIC_ROOT"] = str(self.static_root)
        result["GUNICORN_PORT"] = str(self.gunicorn_port)
        result["GUNICORN_WORKERS"] = str(self.gunicorn_workers)
        result["GUNICORN_THREADS"] = str(self.gunicorn_threads)
        result["PYTHONUNBUFFERED"] = "1"
        return result


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise ConfigError("nginx is not installed: apt-get install nginx (Debian's package)")
    return found


def render(template: Path, values: dict[str, str]) -> str:
    """Fills ``@name@`` placeholders; an unknown one is an error, not an empty string."""

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            raise ConfigError(f"{template.name}: no value for @{name}@")
        return values[name]

    return _PLACEHOLDER.sub(fill, template.read_text())


def nginx_conf(topology: Topology) -> str:
    # max_fails=0: a worker is never marked down. A restarting worker refuses the handshake at once and
    # nginx tries the next (proxy_next_upstream); marked down instead, it would come back one
    # websocket per fail_timeout (nginx clears the mark only when a probe request ends, and a
    # websocket ends late), and the viewers' reconnections would trickle in for minutes.
    return render(DEPLOY / "nginx.conf.template", _nginx_values(topology))


def nginx_proxy_conf(topology: Topology) -> str:
    """The proxy settings every location that goes to gunicorn includes."""
    return render(DEPLOY / "proxy_to_gunicorn.conf.template", _nginx_values(topology))


def _nginx_values(topology: Topology) -> dict[str, str]:
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=0;" for port in topology.asgi_ports)
    return dict(
        {
            "run_dir": str(topology.run_dir),
            "log_dir": str(topology.log_dir),
            "static_root": str(topology.static_root),
            "bind": topology.bind,
            "port": str(topology.port),
            "backlog": "2048",
            "gunicorn_port": str(topology.gunicorn_port),
            "asgi_servers": servers,
            "nginx_workers": topology.nginx_workers,
            "nginx_worker_connections": str(topology.nginx_worker_connections),
            # Each proxied connection holds two descriptors (client and upstream), plus files.
            "nginx_rlimit_nofile": str(2 * topology.nginx_worker_connections + 64),
            "max_body": topology.max_body,
            "proxy_timeout": str(topology.proxy_timeout),
            "ws_timeout": str(topology.ws_timeout),
            "forwarded_proto": topology.forwarded_proto,
        }
    )


_ASGI_PROGRAM = """[program:asgi_{number}]
; Websockets (/ws/) on port {port}. Restarted one at a time by deploy/restart.py; on SIGTERM it
; closes its sockets and reports none of its viewers (lifespan), and the viewers reconnect.
command={bin}/uvicorn project.asgi:application --host 127.0.0.1 --port {port} {options}
environment=DB_POOL_MAX_SIZE="{pool}"
priority=110
startsecs=2
stopsignal=TERM
stopwaitsecs=20
stopasgroup=true
killasgroup=true
autorestart=true
redirect_stderr=true
stdout_logfile={log_dir}/asgi_{number}.log
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=5
"""

_UVICORN_OPTIONS = (
    "--lifespan on --ws-per-message-deflate false --no-access-log --timeout-graceful-shutdown 10"
    " --proxy-headers --forwarded-allow-ips 127.0.0.1"
)

_JOB_PROGRAM = """[program:jobs]
; Background jobs (project.jobs): {count} worker(s) sharing the database queue.
command={bin}/python {root}/manage.py run_worker
process_name=jobs_%(process_num)d
numprocs={count}
priority=200
startsecs=2
stopsignal=TERM
stopwaitsecs=30
stopasgroup=true
killasgroup=true
autorestart=true
redirect_stderr=true
stdout_logfile={log_dir}/%(program_name)s_%(process_num)d.log
stdout_logfile_maxbytes=50MB
stdout_logfile_backups=5
"""


def has_job_worker() -> bool:
    """Whether this checkout has the background-job worker command (``manage.py run_worker``)."""
    return any(ROOT.glob("*/management/commands/run_worker.py"))


def supervisord_conf(topology: Topology) -> str:
    asgi = "\n".join(
        _ASGI_PROGRAM.format(
            number=index + 1,
            port=port,
            bin=BIN,
            options=_UVICORN_OPTIONS,
            pool=topology.asgi_pool_size,
            log_dir=topology.log_dir,
        )
        for index, port in enumerate(topology.asgi_ports)
    )
    names = ",".join(f"asgi_{index + 1}" for index in range(len(topology.asgi_ports)))
    asgi += f"\n[group:asgi]\nprograms={names}\n"
    jobs = ""
    if topology.job_workers and has_job_worker():
        jobs = _JOB_PROGRAM.format(count=topology.job_workers, bin=BIN, root=ROOT, log_dir=topology.log_dir)
    return render(
        DEPLOY / "supervisord.conf.template",
        {
            "run_dir": str(topology.run_dir),
            "log_dir": str(topology.log_dir),
            "root": str(ROOT),
            "bin": str(BIN),
            "nginx": nginx_binary(),
            "asgi_programs": asgi,
            "job_programs": jobs,
        },
    )


def http_status(url: str, timeout: float = 2.0) -> int | None:
    """The status code of GET ``url``, or None when nothing answers."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 - our own http URL
            return response.status
    except urllib.error.HTTPError as error:
        return error.code
    except (OSError, ValueError):
        return None


def wait_for(url: str, *, timeout: float, expect: int = 200) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_status(url) == expect:
            return True
        time.sleep(0.25)
    return False


def children_of(pid: int) -> set[int]:
    """Direct children of ``pid`` (from /proc)."""
    found: set[int] = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        fields = text[text.rindex(")") + 2 :].split()
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def descendants_of(pid: int) -> set[int]:
    found: set[int] = set()
    frontier = [pid]
    while frontier:
        for child in children_of(frontier.pop()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found
