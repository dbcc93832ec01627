"""Fair access (issue 14): offers and accepts at 200 concurrent clients, zero oversell.

A night shoot of ``--capacity`` seats (default 100) that offers freed seats (``offer_hold_minutes``
set), all seats confirmed and a long waitlist (``--waiting``, default 3,000). Gunicorn as production
runs it (``bench.rush_common.measured_server``: 2 workers x 2 threads, PostgreSQL, cache and
production's throttles in Redis) and one job worker (``manage.py run_worker``, as production runs it)
serve it. For ``--seconds`` a load generator in a separate process (asyncio on uvloop, the HTTP/1.1
client of ``bench.registration_rush``; it shares no Python with the server) keeps ``--clients``
connections busy, each client doing the next thing there is to do, in this order:

  1. answer an offer: ``POST /api/registrations/{id}/accept/`` (``--accept`` of them),
     ``.../decline/`` (``--decline``), or leave it unanswered (the rest: it expires);
  2. a fan whose registration ended (cancelled, declined, expired) joins the waitlist again:
     ``POST /api/sessions/{id}/registrations/`` (the same row revived at the end of the queue);
  3. a confirmed fan cancels: ``DELETE /api/registrations/{id}/`` (the seat is offered on at once);
  4. with ``--churn``, otherwise a waitlisted fan leaves (and then joins again, step 2).

Fans learn of their offers as from the notice: the generator reads the session's open offers from
the database every 20 ms (one indexed query) and, in the same statement and snapshot, the counters
and the rows: confirmed + offered <= capacity and counters = rows are checked at every sample.
Expiry: this script plays the clock. An offer unanswered for ``--hold`` seconds gets its deadline
(``offer_expires_at``) and its ``expire_offer`` job's ``run_after`` set to now, and the job worker
expires it (``registrations.tasks.expire_offer``), racing any late accept.

After each run: counters = rows, confirmed + offered <= capacity, waitlist tickets unique and the
parties counted, no offer without a deadline, one registration per fan.

    .venv/bin/python bench/offer_churn.py --database-url postgres://postgres@127.0.0.1:5432/aperture_fair_bench \\
        --redis-url redis://127.0.0.1:6382/12 --clients 200 --seconds 20 --repeat 3

The database is created if missing and its bench rows are replaced: use a scratch database.
"""

import argparse
import asyncio
import collections
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.registration_rush import Connection, seed  # noqa: E402 - after the path is set
from bench.rush_common import measured_server, postgres_pids, prepare_database  # noqa: E402
from bench.rush_simulation import cpu_seconds, gunicorn_pids  # noqa: E402

# One statement, one snapshot: the open offers, the session's counters and what the rows say.
SAMPLE_SQL = """
SELECT s.capacity, s.confirmed_count, s.offered_count, s.waitlist_count,
       (SELECT coalesce(sum(party_size), 0) FROM registrations_registration
         WHERE session_id = s.id AND status = 'confirmed'),
       (SELECT coalesce(sum(party_size), 0) FROM registrations_registration
         WHERE session_id = s.id AND status = 'offered'),
       (SELECT coalesce(sum(party_size), 0) FROM registrations_registration
         WHERE session_id = s.id AND status = 'waitlisted'),
       (SELECT coalesce(json_agg(json_build_array(id, offer_expires_at)), '[]') FROM registrations_registration
         WHERE session_id = s.id AND status = 'offered')
FROM events_session s WHERE s.id = %s
"""


# --- The load generator (a separate process: no Django, no server code) --------------------------


def generate(plan: dict, results: multiprocessing.Queue) -> None:
    try:
        import uvloop

        run = uvloop.run
    except ImportError:  # pragma: no cover
        run = asyncio.run
    results.put(run(_generate(plan)))


async def _generate(plan: dict) -> dict:
    import psycopg

    rng = random.Random(plan["seed"])
    address = (plan["host"], plan["port"])
    session_path = f"/api/sessions/{plan['session']}/registrations/"
    token = {int(k): v for k, v in plan["tokens"].items()}  # registration id -> fan's token
    confirmed = collections.deque(plan["confirmed"])
    waitlisted = set(plan["waitlisted"])
    waitlisted_list = list(waitlisted)
    rejoin: collections.deque[int] = collections.deque()
    offers: collections.deque[int] = collections.deque()
    seen: set[tuple[int, str]] = set()
    busy: set[int] = set()  # registrations with a request in flight
    latencies: dict[str, list[float]] = collections.defaultdict(list)
    statuses: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    samples = {"count": 0, "over_capacity": 0, "counters_differ": 0, "max_taken": 0, "capacity": 0}
    unanswered = 0
    deadline = time.monotonic() + plan["seconds"]
    in_flight = {"now": 0, "sum": 0, "n": 0}

    async def watch() -> None:
        nonlocal unanswered
        async with await psycopg.AsyncConnection.connect(plan["database_url"], autocommit=True) as db:
            while time.monotonic() < deadline:
                row = await (await db.execute(SAMPLE_SQL, [plan["session"]])).fetchone()
                capacity, confirmed_n, offered_n, waitlist_n, rows_c, rows_o, rows_w, open_offers = row
                samples["count"] += 1
                samples["capacity"] = capacity
                samples["max_taken"] = max(samples["max_taken"], confirmed_n + offered_n)
                samples["over_capacity"] += confirmed_n + offered_n > capacity or rows_c + rows_o > capacity
                samples["counters_differ"] += (confirmed_n, offered_n, waitlist_n) != (rows_c, rows_o, rows_w)
                for registration_id, expires in open_offers:
                    if (registration_id, expires) in seen:
                        continue
                    seen.add((registration_id, expires))
                    waitlisted.discard(registration_id)
                    if rng.random() < plan["accept"] + plan["decline"]:
                        offers.append(registration_id)
                    else:
                        unanswered += 1  # the clock lets it expire
                await asyncio.sleep(0.02)

    async def client() -> None:
        conn = Connection(*address)
        try:
            while time.monotonic() < deadline:
                kind, method, path, registration_id = _next_step()
                if kind is None:
                    await asyncio.sleep(0.005)
                    continue
                headers = {"Authorization": f"Token {token[registration_id]}"}
                in_flight["now"] += 1
                started = time.perf_counter()
                try:
                    status, body = await conn.request(method, path, b"{}" if method == "POST" else b"", headers)
                finally:
                    in_flight["now"] -= 1
                latencies[kind].append(time.perf_counter() - started)
                statuses[kind][status] += 1
                busy.discard(registration_id)
                _after(kind, status, body, registration_id)
        finally:
            conn.close()

    def _next_step():
        while offers:
            registration_id = offers.popleft()
            if registration_id in busy:
                continue
            busy.add(registration_id)
            answer = "accept" if rng.random() < plan["accept"] / (plan["accept"] + plan["decline"]) else "decline"
            return answer, "POST", f"/api/registrations/{registration_id}/{answer}/", registration_id
        while rejoin:
            registration_id = rejoin.popleft()
            if registration_id in busy:
                continue
            busy.add(registration_id)
            return "join", "POST", session_path, registration_id
        while confirmed:
            registration_id = confirmed.popleft()
            if registration_id in busy:
                continue
            busy.add(registration_id)
            return "cancel", "DELETE", f"/api/registrations/{registration_id}/", registration_id
        for _ in range(8 if plan["churn"] else 0):
            registration_id = rng.choice(waitlisted_list)
            if registration_id in waitlisted and registration_id not in busy:
                busy.add(registration_id)
                waitlisted.discard(registration_id)
                return "leave", "DELETE", f"/api/registrations/{registration_id}/", registration_id
        return None, None, None, None

    def _after(kind: str, status: int, body: bytes, registration_id: int) -> None:
        if kind == "accept":
            # 200: the seat is the fan's; 409: the offer expired first (the fan joins again).
            (confirmed if status == 200 else rejoin).append(registration_id)
        elif kind in ("decline", "cancel", "leave") and status in (200, 204):
            rejoin.append(registration_id)
        elif kind == "join" and status in (200, 201):
            now = json.loads(body).get("status")
            if now == "confirmed":
                confirmed.append(registration_id)
            elif now == "waitlisted":
                waitlisted.add(registration_id)
                waitlisted_list.append(registration_id)

    async def sample_in_flight() -> None:
        while time.monotonic() < deadline:
            in_flight["sum"] += in_flight["now"]
            in_flight["n"] += 1
            await asyncio.sleep(0.01)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(watch(), sample_in_flight(), *(client() for _ in range(plan["clients"])))
    elapsed = time.perf_counter() - started
    return {
        "elapsed": elapsed,
        "client_cpu_share": (time.process_time() - cpu) / elapsed,
        "latencies": {k: sorted(v) for k, v in latencies.items()},
        "statuses": {k: dict(v) for k, v in statuses.items()},
        "samples": samples,
        "offers_seen": len(seen),
        "left_unanswered": unanswered,
        "mean_in_flight": in_flight["sum"] / max(1, in_flight["n"]),
    }


# --- Set-up, the clock and the checks (this process, Django) --------------------------------------


def offer_session(*, capacity: int, waiting: int, tokens: list[str]) -> tuple[int, dict, list[int], list[int]]:
    """The offers session (made once, in its own series) with ``capacity`` fans confirmed and
    ``waiting`` waitlisted; registrations of earlier runs replaced."""
    from django.utils import timezone
    from rest_framework.authtoken.models import Token

    from bench.registration_rush import reset
    from events.models import Series, Session
    from registrations.models import Registration

    bench_series = Series.objects.get(slug="bench-rush")
    series, _ = Series.objects.get_or_create(
        slug="bench-offers", defaults={"organization": bench_series.organization, "title": "Bench offers"}
    )
    template = Session.objects.filter(series=bench_series).order_by("id").first()
    session = Session.objects.filter(series=series).first()
    if session is None:
        session = Session.objects.create(
            series=series, kind=Session.Kind.NIGHT_SHOOT, title="Bench offers night shoot", city=template.city,
            venue=template.venue, starts_at=template.starts_at, ends_at=template.ends_at, timezone=template.timezone,
            capacity=capacity, status=Session.Status.PUBLISHED, waitlist_enabled=True,
        )  # fmt: skip
    Session.objects.filter(id=session.id).update(
        capacity=capacity, offer_hold_minutes=60, offer_cutoff_minutes=0, max_party_size=1,
        starts_at=timezone.now() + dt.timedelta(days=30), registration_opens_at=None, registration_closes_at=None,
    )  # fmt: skip
    reset([session.id])
    fans = dict(Token.objects.filter(key__in=tokens[: capacity + waiting]).values_list("user_id", "key"))
    ordered = sorted(fans)
    rows = [Registration(session_id=session.id, fan_id=fan, status="confirmed") for fan in ordered[:capacity]]
    rows += [
        Registration(session_id=session.id, fan_id=fan, status="waitlisted", waitlist_ticket=n)
        for n, fan in enumerate(ordered[capacity : capacity + waiting], start=1)
    ]
    Registration.objects.bulk_create(rows, batch_size=2000)
    Session.objects.filter(id=session.id).update(
        confirmed_count=capacity, waitlist_count=waiting, waitlist_parties=waiting, waitlist_seq=waiting
    )
    by_fan = dict(Registration.objects.filter(session_id=session.id).values_list("fan_id", "id"))
    token_of = {by_fan[fan]: fans[fan] for fan in ordered}
    confirmed = [by_fan[fan] for fan in ordered[:capacity]]
    waitlisted = [by_fan[fan] for fan in ordered[capacity : capacity + waiting]]
    return session.id, token_of, confirmed, waitlisted


def clock(session_id: int, hold: float, stop: threading.Event, counts: collections.Counter) -> None:
    """Time passing, faster: an offer unanswered for ``hold`` seconds reaches its deadline now, and
    so does its expiry job (the job worker then runs it)."""
    from django.db import connection, transaction
    from django.utils import timezone
    from django_tasks_db.models import DBTaskResult

    from registrations.models import Registration

    try:
        while not stop.is_set():
            now = timezone.now()
            with transaction.atomic():
                stale = list(
                    Registration.objects.filter(
                        session_id=session_id, status="offered", offer_expires_at__gt=now,
                        updated_at__lt=now - dt.timedelta(seconds=hold),
                    ).values_list("id", flat=True)
                )  # fmt: skip
                if stale:
                    counts["offers aged"] += Registration.objects.filter(id__in=stale, status="offered").update(
                        offer_expires_at=now
                    )
                    counts["jobs due"] += DBTaskResult.objects.filter(
                        status="READY", task_path__endswith="expire_offer", args_kwargs__args__0__in=stale
                    ).update(run_after=now)
            stop.wait(0.1)
    finally:
        connection.close()


def check(session_id: int) -> list[str]:
    from django.db.models import Count

    from events.models import Session
    from registrations import waitlist
    from registrations.models import Registration

    session = Session.objects.get(id=session_id)
    rows = waitlist.counters_from_rows(session)
    problems = []
    if (session.confirmed_count, session.offered_count, session.waitlist_count) != (
        rows["confirmed"], rows["offered"], rows["waitlisted"],
    ):  # fmt: skip
        problems.append(
            f"counters {session.confirmed_count}/{session.offered_count}/{session.waitlist_count} != rows {rows}"
        )
    if session.confirmed_count + session.offered_count > session.capacity:
        problems.append("OVERSOLD")
    tickets = list(
        Registration.objects.filter(session=session, status="waitlisted").values_list("waitlist_ticket", flat=True)
    )
    if len(set(tickets)) != len(tickets) or None in tickets or session.waitlist_parties != len(tickets):
        problems.append("waitlist tickets shared or missing, or parties miscounted")
    if Registration.objects.filter(session=session, status="offered", offer_expires_at__isnull=True).exists():
        problems.append("an offer without a deadline")
    if Registration.objects.filter(session=session).values("fan_id").annotate(n=Count("id")).filter(n__gt=1).exists():
        problems.append("a fan holds two registrations")
    free = session.capacity - session.confirmed_count - session.offered_count
    if free > 0 and tickets:
        problems.append(f"{free} seats free while {len(tickets)} wait")
    return problems


@contextlib.contextmanager
def job_worker(database_url: str, redis_url: str):
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "EMAIL_BACKEND": "django.core.mail.backends.dummy.EmailBackend",
        "LOG_LEVEL": "WARNING",
    }
    log = Path(tempfile.mkdtemp()) / "worker.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker", "--interval", "0.1"],
            cwd=ROOT, env=env, stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
        try:
            yield proc.pid
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def pick(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))] * 1000 if values else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aperture_fair_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6382/12")
    parser.add_argument("--base-url", default="", help="measure this running server instead of starting one")
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--waiting", type=int, default=3000)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--accept", type=float, default=0.6, help="share of offers accepted")
    parser.add_argument("--decline", type=float, default=0.2, help="share declined (the rest expire)")
    parser.add_argument("--hold", type=float, default=5.0, help="seconds an offer stays open before it expires")
    parser.add_argument(
        "--churn", action="store_true", help="idle clients make waitlisted fans leave and join again (step 4)"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    prepare_database(args.database_url, args.redis_url)
    _sessions, tokens = seed(fans=args.capacity + args.waiting, sessions=1, capacity=40)
    runs = []
    with measured_server(args) as (host, port), job_worker(args.database_url, args.redis_url) as worker_pid:
        for number in range(1, args.repeat + 1):
            from django.db import connection

            session_id, token_of, confirmed, waitlisted = offer_session(
                capacity=args.capacity, waiting=args.waiting, tokens=tokens
            )
            connection.close()
            plan = {
                "host": host, "port": port, "session": session_id, "tokens": token_of, "confirmed": confirmed,
                "waitlisted": waitlisted, "clients": args.clients, "seconds": args.seconds, "accept": args.accept,
                "decline": args.decline, "seed": number, "database_url": args.database_url, "churn": args.churn,
            }  # fmt: skip
            counts: collections.Counter = collections.Counter()
            stop = threading.Event()
            ticker = threading.Thread(target=clock, args=(session_id, args.hold, stop, counts), daemon=True)
            results: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
            generator = multiprocessing.get_context("spawn").Process(target=generate, args=(plan, results))
            load_before = os.getloadavg()[0]
            processes = {"gunicorn": gunicorn_pids(port), "job worker": [worker_pid], "PostgreSQL": postgres_pids()}
            cpu_before = {pid: cpu_seconds([pid]) for pids in processes.values() for pid in pids}
            ticker.start()
            generator.start()
            figures = results.get(timeout=args.seconds + 120)
            generator.join(timeout=30)
            # Backends opened during the run (the server connects on its first requests) count whole;
            # a process gone by the end (a connection closed) counts for nothing.
            processes["PostgreSQL"] = sorted(set(processes["PostgreSQL"]) | set(postgres_pids()))
            cpu = {
                name: sum(max(0.0, cpu_seconds([pid]) - cpu_before.get(pid, 0.0)) for pid in pids)
                for name, pids in processes.items()
            }
            stop.set()
            ticker.join(timeout=10)
            time.sleep(1.0)  # the worker's expiries still due, then the checks
            problems = check(session_id)
            connection.close()
            figures.update(problems=problems, load=(load_before, os.getloadavg()[0]), clock=dict(counts), cpu=cpu)
            runs.append(figures)
            _print_run(number, figures)
    _print_summary(runs, args)
    return 0 if all(not r["problems"] and not r["samples"]["over_capacity"] for r in runs) else 1


def _print_run(number: int, figures: dict) -> None:
    elapsed = figures["elapsed"]
    print(
        f"run {number}: {elapsed:.1f} s, load average {figures['load'][0]:.1f} -> {figures['load'][1]:.1f}, "
        f"mean requests in flight {figures['mean_in_flight']:.0f}, "
        f"client CPU {figures['client_cpu_share']:.2f}; CPU seconds: "
        + ", ".join(f"{name} {seconds:.1f}" for name, seconds in figures["cpu"].items())
    )
    for kind in ("accept", "decline", "cancel", "join", "leave"):
        lat = figures["latencies"].get(kind, [])
        ok = sum(n for s, n in figures["statuses"].get(kind, {}).items() if 200 <= s < 300)
        print(
            f"  {kind:8} {len(lat):6} requests {len(lat) / elapsed:7.1f}/s  ok {ok / elapsed:7.1f}/s  "
            f"p50 {pick(lat, 0.5):7.1f} ms  p99 {pick(lat, 0.99):7.1f} ms  "
            f"statuses {figures['statuses'].get(kind, {})}"
        )
    s = figures["samples"]
    print(
        f"  offers seen {figures['offers_seen']}, left unanswered {figures['left_unanswered']}, "
        f"clock {figures['clock']}; "
        f"{s['count']} samples: confirmed + offered at most {s['max_taken']} of {s['capacity']}, "
        f"over capacity {s['over_capacity']}, counters differing from rows {s['counters_differ']}; "
        f"after the run: {'OK' if not figures['problems'] else '; '.join(figures['problems'])}",
        flush=True,
    )


def _print_summary(runs: list[dict], args) -> None:
    def rate(run, kind):
        return sum(n for s, n in run["statuses"].get(kind, {}).items() if 200 <= s < 300) / run["elapsed"]

    print(f"\n{len(runs)} runs x {args.seconds:.0f} s, {args.clients} clients, capacity {args.capacity}, "
          f"{args.waiting} waiting, gunicorn {args.workers} x {args.threads} + 1 job worker")  # fmt: skip
    for kind in ("accept", "decline", "cancel", "join", "leave"):
        rates = [rate(r, kind) for r in runs]
        p50 = [pick(r["latencies"].get(kind, []), 0.5) for r in runs]
        p99 = [pick(r["latencies"].get(kind, []), 0.99) for r in runs]
        print(f"  {kind:8} {min(rates):6.1f}-{max(rates):6.1f}/s (median {statistics.median(rates):.1f})  "
              f"p50 {min(p50):.0f}-{max(p50):.0f} ms  p99 {min(p99):.0f}-{max(p99):.0f} ms")  # fmt: skip
    print(f"  over capacity in {sum(r['samples']['over_capacity'] for r in runs)} of "
          f"{sum(r['samples']['count'] for r in runs)} samples; counters differing from rows in "
          f"{sum(r['samples']['counters_differ'] for r in runs)}; checks after the runs: "
          f"{'OK' if not any(r['problems'] for r in runs) else 'FAILED'}")  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(main())
