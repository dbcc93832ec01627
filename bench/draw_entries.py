"""Fair access (issue 14): 10,000 draw entries in one minute through HTTP, with no error.

Starts gunicorn as production runs it (``bench.rush_common.measured_server``: 2 workers x 2 threads on
PostgreSQL, the cache and production's throttles in Redis), or measures a running server
(``--base-url``). A draw-mode session with its entry window open and ``--fans`` fans with verified
email addresses and API tokens; then **wrk** (C, one thread, not this Python) sends every fan's entry,
``POST /api/sessions/{id}/registrations/`` ``{}`` (API.md, "Fair access": 201 ``status: "entered"``,
``entry_ref``), from ``--connections`` keep-alive connections, as fast as the server answers, every
request a different fan (a Lua script rotating the tokens). wrk stops once it has ``--fans`` answers
(the few requests still in flight then are fans sending their entry again: 200, the same entry).

Per run it prints the entries accepted (201), repeats (200), errors (non-2xx and socket errors), the
wall time, requests/s, p50/p99 latency and the load average, then checks in the database that the
session holds exactly ``--fans`` entries, one per fan, each with its own reference, and nothing else.

    .venv/bin/python bench/draw_entries.py --database-url postgres://postgres@127.0.0.1:5432/aperture_fair_bench \\
        --redis-url redis://127.0.0.1:6382/12 --fans 10000 --connections 200 --repeat 3

The database is created if missing and its bench rows are replaced: use a scratch database.
"""

import argparse
import datetime as dt
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.registration_rush import seed  # noqa: E402 - after the path is set
from bench.rush_common import measured_server, postgres_pids, prepare_database  # noqa: E402
from bench.rush_pages import registration_count, settled_count, wrk, wrk_command, wrk_figures  # noqa: E402
from bench.rush_simulation import cpu_seconds, gunicorn_pids  # noqa: E402

# Each request the next fan's entry; wrk stops after ``BENCH_ANSWERS`` answers. Statuses are counted
# here (wrk itself only counts "non-2xx"): 201 a new entry, 200 the fan's entry already made.
ENTER_LUA = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local path = "/api/sessions/" .. os.getenv("BENCH_SESSION") .. "/registrations/"
local wanted = tonumber(os.getenv("BENCH_ANSWERS"))
local n = 0
answers, created, repeated, other = 0, 0, 0, 0
request = function()
  n = n + 1
  return wrk.format("POST", path, {["Authorization"] = "Token " .. tokens[(n - 1) % #tokens + 1],
    ["Content-Type"] = "application/json", ["Accept"] = "application/json"}, "{}")
end
response = function(status, headers, body)
  answers = answers + 1
  if status == 201 then created = created + 1 elseif status == 200 then repeated = repeated + 1
  else other = other + 1 end
  if answers >= wanted then wrk.thread:stop() end
end
local threads = {}
setup = function(thread) threads[#threads + 1] = thread end
done = function(summary, latency, requests)
  local c, r, o = 0, 0, 0
  for _, thread in ipairs(threads) do
    c = c + thread:get("created"); r = r + thread:get("repeated"); o = o + thread:get("other")
  end
  io.write(string.format("statuses: 201=%d 200=%d other=%d\\n", c, r, o))
end
"""


def draw_session(capacity: int) -> int:
    """The bench's draw session (made once, in its own series), entries open now."""
    from django.utils import timezone

    from events.models import Series, Session

    bench_series = Series.objects.get(slug="bench-rush")
    series, _ = Series.objects.get_or_create(
        slug="bench-draw", defaults={"organization": bench_series.organization, "title": "Bench draw"}
    )
    now = timezone.now()
    template = Session.objects.filter(series=bench_series).order_by("id").first()
    session = Session.objects.filter(series=series).first()
    if session is None:
        session = Session.objects.create(
            series=series,
            kind=Session.Kind.NIGHT_SHOOT,
            title="Bench draw night shoot",
            city=template.city,
            venue=template.venue,
            starts_at=template.starts_at,
            ends_at=template.ends_at,
            timezone=template.timezone,
            capacity=capacity,
            status=Session.Status.PUBLISHED,
            allocation=Session.Allocation.DRAW,
            waitlist_enabled=True,
        )
    Session.objects.filter(id=session.id).update(
        capacity=capacity,
        allocation=Session.Allocation.DRAW,
        entry_opens_at=now - dt.timedelta(hours=1),
        entry_closes_at=now + dt.timedelta(hours=2),
        draw_at=now + dt.timedelta(hours=2),
        draw_new_accounts=True,
        registration_opens_at=None,
        registration_closes_at=None,
    )
    return session.id


def verify_fans(count: int) -> None:
    """Every bench fan's address verified (one person, one entry needs it)."""
    from django.utils import timezone

    from accounts.models import User

    User.objects.filter(username__startswith="bench-fan-", email_verified_at__isnull=True).update(
        email_verified_at=timezone.now() - dt.timedelta(days=1)
    )


def reset_draw(session_id: int) -> None:
    """No entries and no draw record (a new seed next time), the tables vacuumed."""
    from bench.registration_rush import reset
    from registrations.models import Draw

    Draw.objects.filter(session_id=session_id).delete()
    reset([session_id])


def check_entries(session_id: int, fans: int) -> list[str]:
    """Exactly ``fans`` entries, one per fan, each with its own reference, nothing else."""
    from django.db.models import Count

    from registrations import draws
    from registrations.models import Draw, Registration

    rows = Registration.objects.filter(session_id=session_id)
    problems = []
    by_status = dict(rows.values_list("status").annotate(n=Count("id")).order_by())
    if by_status != {"entered": fans}:
        problems.append(f"registrations by status {by_status}, expected {{'entered': {fans}}}")
    if rows.order_by().values("fan_id").distinct().count() != rows.count():
        problems.append("a fan holds more than one registration")
    refs = rows.exclude(entry_ref__isnull=True).order_by().values("entry_ref").distinct().count()
    if refs != rows.count():
        problems.append(f"{refs} distinct entry references for {rows.count()} entries")
    from events.models import Session

    if draws.entries_count(session=Session.objects.get(id=session_id)) != fans:
        problems.append("the draw's entry count differs")
    if not Draw.objects.filter(session_id=session_id, drawn_at__isnull=True).exclude(seed_sha256="").exists():
        problems.append("no draw record with a published seed hash")
    return problems


def enter_all(base: str, args, *, script: Path, env: dict, session_id: int) -> dict:
    """wrk until the database holds every fan's entry (polled every 0.1 s; then SIGINT, on which wrk
    prints its figures), bounded by ``--limit`` + 30 s. The wall time is the rows' own: from just
    before wrk starts to the last entry's ``created_at``."""
    from django.db import connection
    from django.db.models import Max
    from django.utils import timezone

    from registrations.models import Registration

    command = wrk_command(base + "/", connections=args.connections, seconds=args.limit + 30, script=str(script))
    started = timezone.now()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **env})  # fmt: skip
    try:
        while proc.poll() is None and registration_count([session_id]) < args.fans:
            time.sleep(0.1)
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    connection.close()
    figures = wrk_figures(out, err, command)
    last = Registration.objects.filter(session_id=session_id).aggregate(last=Max("created_at"))["last"]
    figures["wall"] = (last - started).total_seconds() if last else float("nan")
    figures["entries_per_second"] = args.fans / figures["wall"]
    counted = (pair.split("=") for pair in out.split("statuses: ")[1].split())
    figures["statuses"] = {key: int(value) for key, value in counted}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aperture_fair_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6382/12")
    parser.add_argument("--base-url", default="", help="measure this running server instead of starting one")
    parser.add_argument("--fans", type=int, default=10_000)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=float, default=60.0, help="seconds allowed for all the entries (goal)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    prepare_database(args.database_url, args.redis_url)
    _sessions, tokens = seed(fans=args.fans, sessions=1, capacity=40)
    if len(tokens) < args.fans:
        raise SystemExit(f"only {len(tokens)} fans seeded")
    verify_fans(args.fans)
    session_id = draw_session(capacity=30)
    folder = Path(tempfile.mkdtemp())
    tokens_file = folder / "tokens.txt"
    tokens_file.write_text("\n".join(tokens[: args.fans]) + "\n")
    script = folder / "enter.lua"
    script.write_text(ENTER_LUA)
    env = {"BENCH_TOKENS": str(tokens_file), "BENCH_SESSION": str(session_id), "BENCH_ANSWERS": str(args.fans)}

    runs = []
    server = measured_server(args)
    with server as (host, port):
        base = f"http://{host}:{port}"
        wrk(base + "/api/health/live/", connections=4, seconds=1)  # warm the workers
        for number in range(1, args.repeat + 1):
            reset_draw(session_id)
            from django.db import connection

            connection.close()
            load_before = os.getloadavg()[0]
            processes = {"gunicorn": gunicorn_pids(port), "PostgreSQL": postgres_pids()}
            cpu_before = {pid: cpu_seconds([pid]) for pids in processes.values() for pid in pids}
            figures = enter_all(base, args, script=script, env=env, session_id=session_id)
            settled_count([session_id])  # what wrk left in flight when it stopped is answered first
            processes["PostgreSQL"] = sorted(set(processes["PostgreSQL"]) | set(postgres_pids()))
            # Server CPU per entry (a backend opened during the run counts whole, one closed not at all).
            figures["cpu_ms"] = {
                name: 1000 * sum(max(0.0, cpu_seconds([pid]) - cpu_before.get(pid, 0.0)) for pid in pids) / args.fans
                for name, pids in processes.items()
            }
            problems = check_entries(session_id, args.fans)
            statuses = figures["statuses"]
            figures.update(problems=problems, load=(load_before, os.getloadavg()[0]))
            runs.append(figures)
            # Entries accepted: the database's count (checked above); wrk saw the answers before it stopped.
            ok = not problems and figures["errors"] == 0 and statuses["other"] == 0
            print(
                f"run {number}: wrk saw {statuses['201']} new entries (201), {statuses['200']} repeats (200), "
                f"errors {figures['errors']} (other statuses {statuses['other']}); all entered in "
                f"{figures['wall']:.1f} s ({figures['entries_per_second']:.0f} entries/s; "
                f"wrk {figures['seconds']:.1f} s, "
                f"{figures['rate']:.0f} req/s), p50 {figures['p50']:.1f} ms, p99 {figures['p99']:.1f} ms; "
                f"server CPU per entry: gunicorn {figures['cpu_ms']['gunicorn']:.2f} ms, "
                f"PostgreSQL {figures['cpu_ms']['PostgreSQL']:.2f} ms; "
                f"load average {load_before:.1f} -> {os.getloadavg()[0]:.1f}; database: "
                + ("OK" if not problems else "; ".join(problems))
                + ("" if ok and figures["wall"] <= args.limit else "  ** GOAL NOT MET **"),
                flush=True,
            )

    def span(key: str, fmt: str) -> str:
        values = [run[key] for run in runs]
        return f"{fmt.format(min(values))}-{fmt.format(max(values))} (median {fmt.format(statistics.median(values))})"

    print(
        f"\n{args.fans:,} entries x {len(runs)} runs, {args.connections} connections, gunicorn "
        f"{args.workers} x {args.threads}: all entered in {span('wall', '{:.1f}')} s, "
        f"{span('entries_per_second', '{:.0f}')} entries/s, "
        f"p50 {span('p50', '{:.0f}')} ms, p99 {span('p99', '{:.0f}')} ms, errors {sum(r['errors'] for r in runs)}, "
        f"database checks {'OK' if not any(r['problems'] for r in runs) else 'FAILED'}"
    )
    met = all(not r["problems"] and not r["errors"] and r["wall"] <= args.limit for r in runs)
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())
