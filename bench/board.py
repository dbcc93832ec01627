"""Benchmark: the month board (GET /plan/<series>/, issue 12) of the demo program's month.

The demo month (100 talks, 27 night shoots, the grotto livestream: 128 sessions in 15 cities), with
registrations on 40 sessions (some waitlisted, a third checked in) so that every figure on the
board is real. A real ASGI server (uvicorn, one process) serves the page; this script, a separate
Python process, signs in as the demo organizer and times GET /plan/<id>/ request after request
over loopback (the time from sending the request to the last byte: the server's time plus well
under a millisecond of loopback). Rounds alternate Chinese and English pages. It also counts the
page's SQL queries once, in-process, with Django's test client.

Goal (issue 12): under 300 ms of server time.

Runs on a throwaway SQLite database in a temporary directory (or the database given by
DATABASE_URL, e.g. a scratch PostgreSQL database of your own). Bounded: --rounds (default 40).
    .venv/bin/python bench/board.py [--rounds 40]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
FAST_HASHER = "django.contrib.auth.hashers.MD5PasswordHasher"  # sign-in speed is not measured here


def setup_django(tmp: str) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    os.environ["DJANGO_PASSWORD_HASHERS"] = FAST_HASHER
    for scope in ("ANON", "USER", "LOGIN"):
        os.environ[f"THROTTLE_{scope}"] = ""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", "No directory at", UserWarning)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_month() -> int:
    """The demo month plus registrations; returns the series id."""
    from django.db.models import F
    from django.utils import timezone

    from accounts.models import User
    from events.demo import DEMO_ACCOUNTS
    from events.models import Session
    from frontend.demo import load_demo
    from registrations.models import Registration

    series = load_demo(today=dt.date(2026, 11, 25)).series
    organizer = User.objects.get(username="organizer")
    organizer.set_password(DEMO_ACCOUNTS["organizer"][0])
    organizer.save(update_fields=["password"])
    if Registration.objects.filter(session__series=series).exists():
        return series.id
    fans = User.objects.bulk_create([User(username=f"bench-fan-{i}") for i in range(60)])
    now = timezone.now()
    for session in Session.objects.filter(series=series).order_by("starts_at")[:40]:
        rows = []
        for i, fan in enumerate(fans[: min(len(fans), session.capacity + 5)]):
            confirmed = i < min(session.capacity, 50)
            rows.append(
                Registration(
                    session=session,
                    fan=fan,
                    status="confirmed" if confirmed else "waitlisted",
                    waitlist_position=None if confirmed else i - min(session.capacity, 50) + 1,
                    checked_in_at=now if confirmed and i % 3 == 0 else None,
                )
            )
        Registration.objects.bulk_create(rows)
        confirmed = sum(1 for r in rows if r.status == "confirmed")
        Session.objects.filter(id=session.id).update(
            confirmed_count=F("confirmed_count") + confirmed, waitlist_count=len(rows) - confirmed
        )
    return series.id


def in_process(series_id: int, rounds: int) -> tuple[int, list[float]]:
    """The page's SQL queries, and the CPU time of rendering it in this process (Django's test
    client: the whole request, middleware included), which other processes cannot inflate."""
    from django.db import connection
    from django.test import Client

    from accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username="organizer"))
    client.get(f"/plan/{series_id}/")
    queries: list[str] = []

    def count(execute, sql, params, many, context):
        queries.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        assert client.get(f"/plan/{series_id}/").status_code == 200
    cpu = []
    for _ in range(rounds):
        started = time.process_time()
        client.get(f"/plan/{series_id}/")
        cpu.append((time.process_time() - started) * 1000)
    return len(queries), cpu


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def serve(port: int) -> subprocess.Popen:
    server = subprocess.Popen(  # noqa: S603 - our own server
        [sys.executable, "-m", "uvicorn", "project.asgi:application", "--port", str(port)]
        + ["--log-level", "warning", "--no-access-log"],
        cwd=ROOT,
        env={**os.environ, "DB_CONN_MAX_AGE": "60"},
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return server
        time.sleep(0.2)
    server.kill()
    raise RuntimeError("uvicorn did not start")


def sign_in(client, base: str) -> None:
    from events.demo import DEMO_ACCOUNTS

    client.get(f"{base}/accounts/login/")
    token = client.cookies.get("csrftoken")
    response = client.post(
        f"{base}/accounts/login/",
        data={"username": "organizer", "password": DEMO_ACCOUNTS["organizer"][0], "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/accounts/login/"},
    )
    assert response.status_code == 302, response.status_code


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return f"min {ordered[0]:.0f} / median {statistics.median(ordered):.0f} / p90 {p90:.0f} / max {ordered[-1]:.0f} ms"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40)
    args = parser.parse_args()
    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        setup_django(tmp)
        series_id = make_month()
        from events.models import Session

        sessions = Session.objects.filter(series_id=series_id).count()
        queries, cpu = in_process(series_id, args.rounds)
        port = free_port()
        server = serve(port)
        try:
            base = f"http://127.0.0.1:{port}"
            times: dict[str, list[float]] = {"zh-hans": [], "en": []}
            with httpx.Client(follow_redirects=False, timeout=30) as client:
                sign_in(client, base)
                for _ in range(3):  # warm-up: imports, template loading, connections
                    client.get(f"{base}/plan/{series_id}/")
                for round_ in range(args.rounds):
                    language = "zh-hans" if round_ % 2 == 0 else "en"
                    started = time.perf_counter()
                    response = client.get(f"{base}/plan/{series_id}/", headers={"Accept-Language": language})
                    body = response.content
                    times[language].append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200, response.status_code
                    assert len(re.findall(rb'class="board-row ', body)) == sessions
        finally:
            server.terminate()
            server.wait(timeout=10)
    from django.db import connection

    print(f"database: {connection.vendor}; sessions on the board: {sessions}; SQL queries per page: {queries}")
    for language, samples in times.items():
        print(f"GET /plan/<series>/ [{language}] x{len(samples)}: {summary(samples)}")
    print(f"all x{args.rounds}: {summary(times['zh-hans'] + times['en'])}")
    print(f"CPU time of one page, in process x{len(cpu)}: {summary(cpu)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
