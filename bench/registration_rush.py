"""Registration rush: thousands of fans registering for a handful of sessions in the same minute.

Starts a real server (gunicorn WSGI and/or uvicorn ASGI) on 127.0.0.1 over PostgreSQL, then, with
the same server and in the same run:
  1. hammers the trivial JSON endpoint ``GET /api/health/live/`` (Django + DRF, no database),
  2. sends every fan's ``POST /api/sessions/{id}/registrations/`` (token auth, like the fan app),
     from ``--clients`` concurrent keep-alive connections,
  3. verifies in the database that no session is overbooked, the counters are true, every
     waitlist is gapless 1..N, and every fan holds exactly one registration.
Prints requests/s, p50/p99 latency and the ratio registration / trivial.

    .venv/bin/python bench/registration_rush.py \
        --database-url postgres://postgres@127.0.0.1:5432/aperture_bench --fans 10000 --clients 200

With ``--base-url`` it starts no server and measures servers already running on that database
(e.g. ``make prod``: nginx and, for comparison, its gunicorn directly).

The database named in --database-url is created if missing and its bench data replaced: never
point it at a database that holds anything you want to keep. Throttles are lifted for the server
through the THROTTLE_* variables. Every phase is bounded (--timeout).
"""

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

try:
    import uvloop
except ImportError:  # pragma: no cover - uvicorn[standard] brings it
    uvloop = None


# --- A small HTTP/1.1 keep-alive client (httpx costs more CPU than the server under test) ------------


class Connection:
    def __init__(self, host: str, port: int):
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def _open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None

    async def request(self, method: str, path: str, body: bytes = b"", headers: dict | None = None):
        lines = [f"{method} {path} HTTP/1.1", f"Host: {self.host}:{self.port}", "Accept: application/json"]
        for name, value in (headers or {}).items():
            lines.append(f"{name}: {value}")
        if body or method == "POST":
            lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
        for attempt in range(2):  # a server may close an idle keep-alive connection: reconnect once
            if self.writer is None:
                await self._open()
            try:
                self.writer.write(raw)
                await self.writer.drain()
                head = await self.reader.readuntil(b"\r\n\r\n")
                break
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if attempt:
                    raise
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        length, close = 0, False
        for line in header_lines:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        payload = await self.reader.readexactly(length) if length else b""
        if close:
            self.close()
        return status, payload


@dataclass
class Phase:
    name: str
    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    bodies: list[bytes] = field(default_factory=list)

    def record(self, status: int, latency: float) -> None:
        self.latencies.append(latency)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def summary(self) -> dict:
        lat = sorted(self.latencies)
        pick = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000 if lat else float("nan")  # noqa: E731
        return {
            "phase": self.name,
            "requests": len(lat),
            "seconds": round(self.elapsed, 2),
            "per_second": round(len(lat) / self.elapsed, 1) if self.elapsed else 0,
            "p50_ms": round(pick(0.50), 1),
            "p99_ms": round(pick(0.99), 1),
            "mean_ms": round(statistics.fmean(lat) * 1000, 1) if lat else None,
            "statuses": dict(sorted(self.statuses.items())),
            # CPU the load generator itself used, as a share of one core: near 1.0 means the client,
            # not the server, may be the limit.
            "client_cpu_share": round(self.client_cpu / self.elapsed, 2) if self.elapsed else None,
        }


async def run_phase(name, address, clients, requests, timeout):
    """``requests``: list of (method, path, body, headers); shared by ``clients`` connections to
    ``address`` (host, port)."""
    phase = Phase(name)
    queue = iter(requests)

    async def client():
        conn = Connection(*address)
        try:
            for method, path, body, headers in queue:
                started = time.perf_counter()
                status, payload = await conn.request(method, path, body, headers)
                phase.record(status, time.perf_counter() - started)
                if status >= 500:
                    phase.bodies.append(payload[:300])
        finally:
            conn.close()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))), timeout)
    phase.elapsed = time.perf_counter() - started
    phase.client_cpu = time.process_time() - cpu
    return phase


async def run_timed(name, address, clients, seconds, method, path):
    phase = Phase(name)
    deadline = time.perf_counter() + seconds

    async def client():
        conn = Connection(*address)
        try:
            while time.perf_counter() < deadline:
                started = time.perf_counter()
                status, _ = await conn.request(method, path)
                phase.record(status, time.perf_counter() - started)
        finally:
            conn.close()

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.wait_for(asyncio.gather(*(client() for _ in range(clients))), seconds + 60)
    phase.elapsed = time.perf_counter() - started
    phase.client_cpu = time.process_time() - cpu
    return phase


# --- Database set-up and verification (in-process Django, same DATABASE_URL as the server) ---------


def django_setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()


def ensure_database(database_url: str) -> None:
    import psycopg

    parsed = urllib.parse.urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def seed(*, fans: int, sessions: int, capacity: int) -> tuple[list[int], list[str]]:
    """A series of ``sessions`` open sessions and ``fans`` fans with API tokens. Idempotent."""
    import datetime as dt

    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from accounts.models import Organization, User
    from events.models import City, Series, Session, Venue

    org, _ = Organization.objects.get_or_create(slug="bench-org", defaults={"name": "Bench organization"})
    city, _ = City.objects.get_or_create(
        organization=org,
        name="Bench Luoyang",
        defaults={"local_name": "洛阳", "latitude": 34.62, "longitude": 112.45, "timezone": "Asia/Shanghai"},
    )
    venue, _ = Venue.objects.get_or_create(
        organization=org,
        city=city,
        name="Bench Hall",
        defaults={"latitude": 34.62, "longitude": 112.45, "timezone": "Asia/Shanghai", "max_capacity": 1000},
    )
    series, _ = Series.objects.get_or_create(slug="bench-rush", defaults={"organization": org, "title": "Bench rush"})
    now = timezone.now()
    starts = (now + dt.timedelta(days=30)).replace(microsecond=0)
    existing = list(Session.objects.filter(series=series).order_by("id"))
    for i in range(len(existing), sessions):
        existing.append(
            Session.objects.create(
                series=series,
                kind=Session.Kind.NIGHT_SHOOT,
                title=f"Bench night shoot {i + 1}",
                city=city,
                venue=venue,
                starts_at=starts + dt.timedelta(days=i),
                ends_at=starts + dt.timedelta(days=i, hours=2),
                timezone="Asia/Shanghai",
                capacity=capacity,
                status=Session.Status.PUBLISHED,
                registration_opens_at=now - dt.timedelta(hours=1),
                registration_closes_at=starts - dt.timedelta(hours=1),
                waitlist_enabled=True,
            )
        )
    session_ids = [s.id for s in existing[:sessions]]
    Session.objects.filter(id__in=session_ids).update(capacity=capacity)
    have = User.objects.filter(username__startswith="bench-fan-").count()
    if have < fans:
        User.objects.bulk_create(
            [User(username=f"bench-fan-{i:06d}", email=f"fan{i}@bench.invalid") for i in range(have, fans)],
            batch_size=2000,
            ignore_conflicts=True,
        )
        users = User.objects.filter(username__startswith="bench-fan-", auth_token__isnull=True)
        Token.objects.bulk_create([Token(user=u, key=secrets.token_hex(20)) for u in users], batch_size=2000)
    keys = list(
        Token.objects.filter(user__username__startswith="bench-fan-")
        .order_by("user__username")
        .values_list("key", flat=True)[:fans]
    )
    return session_ids, keys


def reset(session_ids: list[int]) -> None:
    from events.models import Session
    from registrations.models import Registration

    Registration.objects.filter(session_id__in=session_ids).delete()
    Session.objects.filter(id__in=session_ids).update(
        confirmed_count=0, waitlist_count=0, offered_count=0, waitlist_parties=0, waitlist_seq=0
    )
    settle_tables()


def settle_tables() -> None:
    """Every run starts from the same state: the last run's dead rows vacuumed and its WAL written
    out, so that an autovacuum or a checkpoint does not land in the middle of the next run."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM (ANALYZE) registrations_registration, events_session")
        with contextlib.suppress(Exception):  # CHECKPOINT needs a superuser (or pg_checkpoint)
            cursor.execute("CHECKPOINT")


def verify(session_ids: list[int], fans: int) -> dict:
    """Zero overbooking and true counters, read from the database after the rush."""
    from django.db.models import Count

    from events.models import Session
    from registrations.models import Registration

    problems = []
    confirmed_total = waitlisted_total = 0
    for session in Session.objects.filter(id__in=session_ids):
        regs = Registration.objects.filter(session=session)
        confirmed = regs.filter(status="confirmed").count()
        # Waitlist tickets (positions are counted from them when read): one per party, none shared.
        positions = list(
            regs.filter(status="waitlisted").order_by("waitlist_ticket").values_list("waitlist_ticket", flat=True)
        )
        confirmed_total += confirmed
        waitlisted_total += len(positions)
        if confirmed > session.capacity:
            problems.append(f"session {session.id}: {confirmed} confirmed > capacity {session.capacity}")
        if (session.confirmed_count, session.waitlist_count) != (confirmed, len(positions)):
            problems.append(f"session {session.id}: counters differ from rows")
        if len(set(positions)) != len(positions) or session.waitlist_parties != len(positions):
            problems.append(f"session {session.id}: waitlist tickets shared or parties miscounted")
    per_fan = (
        Registration.objects.filter(session_id__in=session_ids)
        .values("fan_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    total = Registration.objects.filter(session_id__in=session_ids).count()
    if per_fan:
        problems.append(f"{per_fan} fans hold more than one registration")
    if total != fans:
        problems.append(f"{total} registrations for {fans} fans")
    return {
        "registrations": total,
        "confirmed": confirmed_total,
        "waitlisted": waitlisted_total,
        "overbooked_sessions": sum("capacity" in p for p in problems),
        "ok": not problems,
        "problems": problems,
    }


# --- Servers -------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_command(kind: str, port: int, workers: int, threads: int) -> list[str]:
    bin_dir = Path(sys.executable).parent
    if kind == "gunicorn":
        command = [str(bin_dir / "gunicorn"), "project.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        command += ["--workers", str(workers)]
        if threads > 1:
            command += ["--worker-class", "gthread", "--threads", str(threads)]
        command += ["--backlog", "2048", "--keep-alive", "5"]
        return command
    return [
        str(bin_dir / "uvicorn"),
        "project.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--lifespan",
        "off",
        "--no-access-log",
        "--backlog",
        "2048",
    ]


@contextlib.contextmanager
def external_server(base_url: str):
    """A server someone else runs (``--base-url``): its (host, port)."""
    parsed = urllib.parse.urlsplit(base_url)
    if parsed.scheme != "http" or not parsed.hostname:
        raise SystemExit(f"--base-url: plain http://host:port expected, got {base_url!r}")
    yield (parsed.hostname, parsed.port or 80)


@contextlib.contextmanager
def running_server(
    kind: str, *, database_url: str, workers: int, threads: int, pool_size: int, log: Path, throttle_redis: str = ""
):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "DJANGO_DEBUG": "false",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_ANON": "",
        "THROTTLE_USER": "",
        "THROTTLE_PRIORITY_CODE": "",
        "DB_CONN_MAX_AGE": "600",
    }
    if kind == "uvicorn":
        # Under ASGI, Django runs each request's sync code in a thread of its own: persistent
        # connections pile up until PostgreSQL refuses clients, and a connection per request fails
        # the same way at 200 concurrent requests. A pool per worker bounds them (see settings).
        env.update({"DB_CONN_MAX_AGE": "0", "DB_POOL_MAX_SIZE": str(pool_size)})
    env.pop("REDIS_URL", None)  # REST only: no channel layer needed
    if throttle_redis:
        # Production's throttles: the default rates, their histories in a Redis cache shared by the
        # workers (every registration reads and writes its user's history; none is refused).
        for name in ("THROTTLE_ANON", "THROTTLE_USER", "THROTTLE_PRIORITY_CODE"):
            env.pop(name, None)
        env.update({"REDIS_URL": throttle_redis, "REDIS_PREFIX": f"aperture-bench-{os.getpid()}"})
    with log.open("wb") as out:
        proc = subprocess.Popen(
            server_command(kind, port, workers, threads),
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
        try:
            deadline = time.monotonic() + 30
            while True:
                with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{kind} did not start; see {log}")
                time.sleep(0.2)
            yield ("127.0.0.1", port)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--database-url",
        default=os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/aperture_rush_bench"),
    )
    parser.add_argument("--fans", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=5)
    parser.add_argument("--capacity", type=int, default=40)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--servers", default="gunicorn,uvicorn", help="comma-separated: gunicorn, uvicorn")
    parser.add_argument("--workers", type=int, default=2, help="server processes (README: as many as cores)")
    parser.add_argument("--threads", type=int, default=2, help="gunicorn gthread threads per worker (1: sync)")
    parser.add_argument("--pool-size", type=int, default=10, help="uvicorn: connections per worker (pool)")
    parser.add_argument("--trivial-seconds", type=float, default=10.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="upper bound per phase, seconds")
    parser.add_argument(
        "--throttled-with-redis",
        default="",
        metavar="REDIS_URL",
        help="keep production's throttle rates, histories in this Redis (default: throttles lifted)",
    )
    parser.add_argument(
        "--base-url",
        default="",
        help="comma-separated URLs of servers already running on --database-url (e.g. make prod's nginx "
        "http://127.0.0.1:8080 and its gunicorn http://127.0.0.1:8001, alternated): start none; their "
        "throttles must be lifted (THROTTLE_ANON= THROTTLE_USER=)",
    )
    parser.add_argument("--repeat", type=int, default=1, help="rounds over --servers, alternating; medians printed")
    parser.add_argument("--json", action="store_true", help="print the results as JSON too")
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("the rush is measured on PostgreSQL")

    ensure_database(args.database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": args.database_url},
        check=True,
        timeout=300,
    )
    django_setup(args.database_url)
    session_ids, keys = seed(fans=args.fans, sessions=args.sessions, capacity=args.capacity)
    if len(keys) < args.fans:
        raise SystemExit(f"only {len(keys)} fans seeded")
    requests = [
        (
            "POST",
            f"/api/sessions/{session_ids[i % len(session_ids)]}/registrations/",
            b"{}",
            {"Authorization": f"Token {key}"},
        )
        for i, key in enumerate(keys)
    ]
    results = []
    load_before = os.getloadavg()[0]
    run = uvloop.run if uvloop else asyncio.run
    if args.base_url:
        kinds = [url.strip().rstrip("/") for url in args.base_url.split(",") if url.strip()]
    else:
        kinds = [k.strip() for k in args.servers.split(",") if k.strip()]
    for kind in kinds * args.repeat:
        reset(session_ids)
        from django.db import connection

        connection.close()
        log = Path("/tmp") / f"aperture-bench-{kind.replace('/', '_')}-{os.getpid()}.log"
        server = (
            external_server(kind)
            if args.base_url
            else running_server(
                kind,
                database_url=args.database_url,
                workers=args.workers,
                threads=args.threads,
                pool_size=args.pool_size,
                log=log,
                throttle_redis=args.throttled_with_redis,
            )
        )
        with server as address:
            run(run_phase("warm-up", address, min(args.clients, 50), [("GET", "/api/health/live/", b"", {})] * 500, 60))
            trivial = run(
                run_timed(
                    "trivial GET /api/health/live/",
                    address,
                    args.clients,
                    args.trivial_seconds,
                    "GET",
                    "/api/health/live/",
                )
            )
            rush = run(run_phase("POST registrations", address, args.clients, requests, args.timeout))
        check = verify(session_ids, args.fans)
        connection.close()
        t, r = trivial.summary(), rush.summary()
        t["load_avg_1m_after"] = r["load_avg_1m_after"] = round(os.getloadavg()[0], 2)
        results.append(
            {
                "server": kind,
                "trivial": t,
                "registration": r,
                "ratio": round(r["per_second"] / t["per_second"], 3),
                "verify": check,
            }
        )
        for body in rush.bodies[:3]:
            print("5xx body:", body, file=sys.stderr)

    print(
        f"\nRegistration rush: {args.fans} fans, {args.sessions} sessions x {args.capacity} seats, "
        f"{args.clients} concurrent clients, {args.workers} workers"
        + (f" x {args.threads} threads" if args.threads > 1 else "")
        + f", {os.cpu_count()} CPUs"
        + (", throttles on (Redis)" if args.throttled_with_redis else ", throttles lifted")
    )
    print(f"load average before: {load_before:.2f} (1 min); after each server: see below")
    print(f"{'server':10} {'phase':28} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'client CPU':>10}  statuses")
    for result in results:
        for key in ("trivial", "registration"):
            s = result[key]
            print(
                f"{result['server']:10} {s['phase']:28} {s['per_second']:>9} {s['p50_ms']:>8} {s['p99_ms']:>8} "
                f"{s['client_cpu_share']:>10}  "
                f"{s['statuses']}"
            )
        v = result["verify"]
        print(
            f"{result['server']:10} registration / trivial = {result['ratio']:.2f}; "
            f"{v['registrations']} registrations, {v['confirmed']} confirmed, {v['waitlisted']} waitlisted, "
            f"overbooked sessions: {v['overbooked_sessions']}, load avg {s['load_avg_1m_after']}, "
            f"checks {'OK' if v['ok'] else 'FAILED: ' + '; '.join(v['problems'])}"
        )
    if args.repeat > 1:
        print("medians over the rounds:")
        for kind in kinds:
            runs = [r for r in results if r["server"] == kind]
            trivial = statistics.median(r["trivial"]["per_second"] for r in runs)
            registration = statistics.median(r["registration"]["per_second"] for r in runs)
            ratios = sorted(r["ratio"] for r in runs)
            print(
                f"{kind:10} trivial {trivial:.0f} req/s, registrations {registration:.0f}/s, ratio median "
                f"{statistics.median(ratios):.2f} (range {ratios[0]:.2f}-{ratios[-1]:.2f}, {len(runs)} runs)"
            )
    if args.json:
        print(json.dumps(results, indent=2))
    return 0 if all(r["verify"]["ok"] for r in results) else 1


if __name__ == "__main__":
    raise SystemExit(main())
