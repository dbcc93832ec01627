"""Organizer messages (issue 13): how fast a 10,000-recipient message is accepted, and how many
emails per second the job workers deliver to a local SMTP sink with 1 and 2 workers.

1. Enqueue: a real server (uvicorn, its own process) over PostgreSQL; this process (another Python)
   sends ``POST /api/messages/`` for the confirmed fans of a series of 10 sessions x 1,000 fans and
   times the request until its 202 (the message, 10,000 notices and their delivery jobs committed).
   No worker runs meanwhile. Repeated ``--rounds`` times (notices and jobs cleared between rounds).
2. Delivery: an SMTP sink in its own process (``tests/smtp_sink.py``, aiosmtpd) prints a timestamp per
   message; ``--deliver`` notices are queued with no worker running, then N ``manage.py run_worker``
   processes start; emails/s = (messages - 1) / (last - first arrival at the sink), so worker start-up
   is not counted. For N in --workers, ``--delivery-rounds`` times each.

    .venv/bin/python bench/notices_delivery.py \\
        --database-url postgres://postgres@127.0.0.1:5432/aperture_notices_bench

The database named is created if missing and its bench data replaced: never point it at a database
that holds anything you want to keep. Every phase is bounded (--timeout).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def ensure_database(database_url: str) -> None:
    import psycopg

    parsed = urllib.parse.urlparse(database_url)
    name = parsed.path.lstrip("/")
    admin_url = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin_url, autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def django_setup(database_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()


def seed(*, fans_per_session: int, sessions: int) -> tuple[int, str]:
    """A series of ``sessions`` sessions with ``fans_per_session`` confirmed fans each, and an
    organizer's token. Idempotent. Returns (series id, token)."""
    import datetime as dt

    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from accounts.models import Membership, Organization, User
    from events.models import City, Series, Session, Venue
    from registrations.models import Registration

    org, _ = Organization.objects.get_or_create(slug="bench-notices", defaults={"name": "Bench notices"})
    city, _ = City.objects.get_or_create(
        organization=org,
        name="Bench Luoyang",
        defaults={"local_name": "洛阳", "latitude": 34.62, "longitude": 112.45, "timezone": "Asia/Shanghai"},
    )
    venue, _ = Venue.objects.get_or_create(
        organization=org,
        city=city,
        name="Bench hall",
        defaults={"latitude": 34.62, "longitude": 112.45, "timezone": "Asia/Shanghai", "max_capacity": 100_000},
    )
    series, _ = Series.objects.get_or_create(organization=org, slug="bench-notices", defaults={"title": "Bench"})
    organizer, _ = User.objects.get_or_create(username="bench-notices-organizer")
    Membership.objects.get_or_create(user=organizer, organization=org, role=Membership.Role.ORGANIZER)
    token, _ = Token.objects.get_or_create(user=organizer)
    start = timezone.now() + dt.timedelta(days=30)
    for index in range(sessions):
        starts = start + dt.timedelta(days=index)
        session, _ = Session.objects.get_or_create(
            series=series,
            title=f"Bench session {index}",
            defaults={
                "venue": venue,
                "city": city,
                "starts_at": starts,
                "ends_at": starts + dt.timedelta(hours=2),
                "capacity": fans_per_session,
                "status": Session.Status.PUBLISHED,
            },
        )
        have = Registration.objects.filter(session=session).count()
        if have >= fans_per_session:
            continue
        users = User.objects.bulk_create(
            [
                User(username=f"bench-notices-{index}-{n}", email=f"fan{index}-{n}@bench.example")
                for n in range(have, fans_per_session)
            ],
            batch_size=2000,
        )
        Registration.objects.bulk_create(
            [
                Registration(
                    session=session,
                    fan=user,
                    status=Registration.Status.CONFIRMED,
                    checkin_code=secrets.token_hex(8),
                )
                for user in users
            ],
            batch_size=2000,
        )
        Session.objects.filter(id=session.id).update(confirmed_count=fans_per_session)
    return series.id, token.key


def clear_outbox() -> None:
    from django_tasks_db.models import DBTaskResult

    from notices.models import Notice, OrganizerMessage

    Notice.objects.all().delete()
    OrganizerMessage.objects.all().delete()
    DBTaskResult.objects.all().delete()


def start_server(database_url: str, port: int) -> subprocess.Popen:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "THROTTLE_ANON": "",
        "THROTTLE_USER": "",
        "DJANGO_DEBUG": "false",
    }
    env.pop("REDIS_URL", None)
    server = subprocess.Popen(  # noqa: S603 - our own command
        [sys.executable, "-m", "uvicorn", "project.asgi:application", "--port", str(port), "--log-level", "warning"],
        cwd=ROOT,
        env=env,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start")


def post_message(port: int, token: str, series_id: int) -> tuple[float, dict]:
    body = json.dumps(
        {"subject": "Tonight", "body": "Bring a tripod.", "audience": "confirmed", "series": series_id}
    ).encode()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    started = time.perf_counter()
    connection.request(
        "POST",
        "/api/messages/",
        body=body,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    response = connection.getresponse()
    payload = json.loads(response.read())
    elapsed = time.perf_counter() - started
    connection.close()
    if response.status != 202:
        raise SystemExit(f"POST /api/messages/ answered {response.status}: {payload}")
    return elapsed, payload


class Sink:
    """The SMTP sink process; collects the arrival times it prints."""

    def __init__(self) -> None:
        self.port = free_port()
        self.process = subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "-m", "tests.smtp_sink", "--port", str(self.port)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.arrivals: list[float] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()
        if not self.ready.wait(30):
            raise SystemExit("the SMTP sink did not start")

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("ready"):
                self.ready.set()
            else:
                self.arrivals.append(float(line.split()[0]))

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def deliver_round(*, database_url: str, sink: Sink, workers: int, recipients: int, timeout: float) -> float:
    """Queue ``recipients`` notices, start ``workers`` workers, return emails/s at the sink."""
    from accounts.models import User
    from notices.models import Notice
    from notices.services import Outgoing, notices_queue

    clear_outbox()
    fans = list(User.objects.filter(username__startswith="bench-notices-").exclude(email="")[:recipients])
    notices_queue(kind=Notice.Kind.MESSAGE, outgoing=[Outgoing(recipient=f, subject="Hi", body="Hello") for f in fans])
    sink.arrivals.clear()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "EMAIL_HOST": "127.0.0.1",
        "EMAIL_PORT": str(sink.port),
    }
    env.pop("REDIS_URL", None)
    processes = [
        subprocess.Popen(  # noqa: S603 - our own command
            [sys.executable, "manage.py", "run_worker", "--interval", "0.2"], cwd=ROOT, env=env
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + timeout
        while len(sink.arrivals) < len(fans):
            if time.monotonic() > deadline:
                raise SystemExit(f"only {len(sink.arrivals)} of {len(fans)} delivered in {timeout} s")
            time.sleep(0.1)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
    arrivals = sorted(sink.arrivals)
    return (len(arrivals) - 1) / (arrivals[-1] - arrivals[0])


def spread(values: list[float], unit: str, digits: int = 2) -> str:
    return (
        f"min {min(values):.{digits}f} / median {statistics.median(values):.{digits}f} / "
        f"max {max(values):.{digits}f} {unit} (n={len(values)})"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aperture_notices_bench")
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--fans-per-session", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5, help="enqueue rounds")
    parser.add_argument("--deliver", type=int, default=3000, help="emails per delivery round")
    parser.add_argument("--workers", default="1,2", help="worker counts to measure")
    parser.add_argument("--delivery-rounds", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=600)
    args = parser.parse_args()
    if not args.database_url.startswith("postgres"):
        parser.error("measured on PostgreSQL")
    ensure_database(args.database_url)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, "DATABASE_URL": args.database_url},
        check=True,
        timeout=300,
    )
    django_setup(args.database_url)
    series_id, token = seed(fans_per_session=args.fans_per_session, sessions=args.sessions)
    expected = args.sessions * args.fans_per_session

    port = free_port()
    server = start_server(args.database_url, port)
    timings = []
    try:
        post_message(port, token, series_id)  # warm-up (imports, connections), not counted
        for _ in range(args.rounds):
            clear_outbox()
            elapsed, payload = post_message(port, token, series_id)
            if payload["recipients"] != expected:
                raise SystemExit(f"{payload['recipients']} recipients, expected {expected}")
            timings.append(elapsed)
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"enqueue a {expected}-recipient message (POST /api/messages/ -> 202): {spread(timings, 's')}")

    sink = Sink()
    try:
        for workers in [int(n) for n in args.workers.split(",")]:
            rates = [
                deliver_round(
                    database_url=args.database_url,
                    sink=sink,
                    workers=workers,
                    recipients=args.deliver,
                    timeout=args.timeout,
                )
                for _ in range(args.delivery_rounds)
            ]
            print(f"delivery, {workers} worker(s), {args.deliver} emails: {spread(rates, 'emails/s', 0)}")
    finally:
        sink.stop()
        clear_outbox()


if __name__ == "__main__":
    main()
