"""Rush-proof: pages and registration against the trivial endpoint, measured with wrk.

Starts gunicorn as the README's production setup runs it (4 workers x 2 threads on PostgreSQL, the
cache and production's throttles in Redis), or measures a running server (``--base-url``, e.g.
make prod's nginx), and in each round, on the same server and one after the other, drives with wrk
(a C load generator, not this Python):

  trivial         GET /api/health/live/ (Django + DRF, no database): the yardstick, measured right
                  before and right after every other target
  home            GET / as a visitor and as a signed-in fan (every request another fan's session cookie)
  session         GET /sessions/{id}/ as a visitor and as a signed-in fan
  ... placed      the same signed-in pages of other fans, who each hold a place on the hot session
                  (most on its waitlist), as most fans who reload do after a rush
  seats           GET /api/sessions/{id}/seats/ (what the session page polls)
  register-1      POST /api/sessions/{id}/registrations/, every request a different fan (token), one
                  hot session; register-5: the same over five sessions

at each ``--connections`` level, and prints requests/s, latency, errors and each rate as a share of the
trivial endpoint's in the same round (goal: >= 1/3). Then ``--sellouts`` times a 100-seat session sold
out by 200 connections (first registration to the 100th seat, from the rows' own timestamps), and
checks that no session is oversold and the counters are true.

    .venv/bin/python bench/rush_pages.py --database-url postgres://postgres@127.0.0.1:5432/aperture_rush_bench \\
        --redis-url redis://127.0.0.1:6379/12 --rounds 3 --duration 5

The database is created if missing and its bench rows are replaced: use a scratch database.
"""

import argparse
import os
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.registration_rush import (  # noqa: E402 - after the path is set
    reset,
    seed,
    settle_tables,
    verify,
)
from bench.rush_common import fan_session_keys, measured_server, prepare_database  # noqa: E402

REGISTER_LUA = """
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local paths = {}
for id in string.gmatch(os.getenv("BENCH_SESSIONS"), "%d+") do
  paths[#paths + 1] = "/api/sessions/" .. id .. "/registrations/"
end
local n = tonumber(os.getenv("BENCH_OFFSET") or "0")
request = function()
  n = n + 1
  local token = tokens[(n - 1) % #tokens + 1]
  local path = paths[(n - 1) % #paths + 1]
  return wrk.format("POST", path, {["Authorization"] = "Token " .. token,
    ["Content-Type"] = "application/json", ["Accept"] = "application/json"}, "{}")
end
"""

# A signed-in fan's page load, every request a different fan (a file of session cookies, one per
# line): a page rendered for one fan must not be what the next fan's request is measured on.
FAN_PAGE_LUA = """
local cookies = {}
for line in io.lines(os.getenv("BENCH_COOKIES")) do cookies[#cookies + 1] = line end
local n = 0
request = function()
  n = n + 1
  return wrk.format("GET", nil, {["Cookie"] = cookies[(n - 1) % #cookies + 1]})
end
"""


def wrk(url: str, *, connections: int, seconds: float, headers: dict | None = None, script: str = "", env=None) -> dict:
    command = wrk_command(url, connections=connections, seconds=seconds, headers=headers, script=script)
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return wrk_figures(done.stdout, done.stderr, command)


def wrk_command(url: str, *, connections: int, seconds: float, headers: dict | None = None, script: str = "") -> list:
    command = [
        "wrk",
        "-t",
        "1",
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    for name, value in (headers or {}).items():
        command += ["-H", f"{name}: {value}"]
    if script:
        command += ["-s", script]
    return command + [url]


def wrk_figures(out: str, err: str, command: list) -> dict:
    """Rate, requests, run time, errors (non-2xx/3xx and socket errors) and p50/p99 from wrk's output."""
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if found is None:
        raise RuntimeError(f"wrk failed: {' '.join(command)}\n{out}\n{err}")
    rate = float(found.group(1))
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    errors = sum(int(x) for x in re.findall(r"Non-2xx or 3xx responses: (\d+)", out))
    errors += sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    p50 = re.search(r"50%\s+([\d.]+)(us|ms|s)", out)
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    taken = re.search(r"requests in ([\d.]+)(ms|s|m)", out)
    seconds_taken = float(taken.group(1)) * {"ms": 0.001, "s": 1, "m": 60}[taken.group(2)]
    return {
        "rate": rate,
        "requests": requests,
        "seconds": seconds_taken,
        "errors": errors,
        "p50": _ms(p50),
        "p99": _ms(p99),
        "output": out,
    }


def _ms(match) -> float:
    if not match:
        return float("nan")
    value, unit = float(match.group(1)), match.group(2)
    return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value


def signed_in_cookies(keys: list[tuple[int, str]]) -> list[str]:
    """Session cookies of these bench fans (``fan_session_keys``); a browser sends back the CSRF
    cookie its first page set, and so does each of these."""
    from django.conf import settings

    return [
        f"{settings.SESSION_COOKIE_NAME}={session_key}; {settings.CSRF_COOKIE_NAME}={secrets.token_hex(16)}"
        for _fan_id, session_key in keys
    ]


# The registration runs take tokens from the first usernames on, and start again from the first
# before the last SPARED_TOKENS: a run of one target reaches at most ~5,000 tokens past its start.
SPARED_TOKENS = 20_000
RUN_REACH = 5_000


def signed_in_fans(fans: int, count: int) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """Two sets of ``count`` signed-in bench fans among the last usernames, which the registration
    runs never reach: the first set holds no place, the second is for ``PlacedFans``."""
    if fans - SPARED_TOKENS + RUN_REACH > fans - 2 * count:
        raise SystemExit(f"--fans {fans} leaves no fans outside the registration runs for {count} signed-in fans")
    return fan_session_keys(count, skip=fans - 2 * count), fan_session_keys(count, skip=fans - count)


class PlacedFans:
    """Fans who each hold a place on one session (the first take the seats, the rest wait), as a
    rush leaves the fans who then reload; placed again after a registration run emptied the session."""

    def __init__(self, keys: list[tuple[int, str]], session_id: int) -> None:
        self.fan_ids = [fan_id for fan_id, _key in keys]
        self.session_id = session_id
        self.placed = False

    def ensure(self, session_ids: list[int]) -> None:
        """Places them, through the same service as the API, unless they hold their places."""
        if self.placed:
            return
        from accounts.models import User
        from registrations import services

        settled_count(session_ids)  # a registration run's requests in flight are answered first
        reset(session_ids)
        for fan in User.objects.filter(id__in=self.fan_ids).order_by("id"):
            services.registration_get_or_create(session_id=self.session_id, fan=fan)
        settle_tables()  # as after every reset: no autovacuum of these rows in the middle of the run
        self.placed = True

    def forget(self) -> None:
        """Their places are gone (a registration run starts from an empty session)."""
        self.placed = False


def first_registrations_times(session_id: int, capacity: int) -> float | None:
    """Seconds from the first registration to the one that took the last seat."""
    from registrations.models import Registration

    times = list(
        Registration.objects.filter(session_id=session_id).order_by("created_at").values_list("created_at", "status")
    )
    confirmed = [at for at, status in times if status == "confirmed"]
    if len(confirmed) < capacity:
        return None
    return (confirmed[capacity - 1] - times[0][0]).total_seconds()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aperture_rush_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--base-url", default="", help="measure this running server instead of starting one")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", default="64,200")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (production's default on 2 cores)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--fans", type=int, default=30_000)
    parser.add_argument("--sellouts", type=int, default=10)
    parser.add_argument("--signed-in-fans", type=int, default=5000, help="fans whose page loads rotate")
    parser.add_argument(
        "--only", default="", help='comma-separated targets to run, "sellouts" for the sell-outs (default: all)'
    )
    args = parser.parse_args()

    prepare_database(args.database_url, args.redis_url)
    from events.models import Session

    session_ids, tokens = seed(fans=args.fans, sessions=5, capacity=40)
    reset(session_ids)
    without_place, with_place = signed_in_fans(args.fans, args.signed_in_fans)
    placed = PlacedFans(with_place, session_ids[0])
    cookies_file = Path(tempfile.mkdtemp()) / "cookies.txt"
    cookies_file.write_text("\n".join(signed_in_cookies(without_place)) + "\n")
    placed_cookies_file = cookies_file.parent / "placed_cookies.txt"
    placed_cookies_file.write_text("\n".join(signed_in_cookies(with_place)) + "\n")
    fan_script = cookies_file.parent / "fan_page.lua"
    fan_script.write_text(FAN_PAGE_LUA)
    tokens_file = Path(tempfile.mkdtemp()) / "tokens.txt"
    tokens_file.write_text("\n".join(tokens) + "\n")
    script = Path(tokens_file.parent) / "register.lua"
    script.write_text(REGISTER_LUA)
    levels = [int(c) for c in args.connections.split(",")]
    hot = session_ids[0]
    targets = {
        "home visitor": ("GET", "/", None),
        "home fan": ("GET", "/", cookies_file),
        "session visitor": ("GET", f"/sessions/{hot}/", None),
        "session fan": ("GET", f"/sessions/{hot}/", cookies_file),
        "seats poll": ("GET", f"/api/sessions/{hot}/seats/", None),
        "register-1": ("POST", [hot], None),
        "register-5": ("POST", session_ids, None),
        "home fan placed": ("GET", "/", placed_cookies_file),
        "session fan placed": ("GET", f"/sessions/{hot}/", placed_cookies_file),
    }
    if args.only:
        targets = {k: v for k, v in targets.items() if k in args.only.split(",")}
    server = measured_server(args)
    results: dict[tuple[str, int], list[dict]] = {}
    offset = 0
    with server as (host, port):
        base = f"http://{host}:{port}"
        # Warm: templates, prepared statements, caches, and the yardstick itself (a fresh server's
        # first seconds run slower, which would flatter the first round's ratios).
        for url in ("/", f"/sessions/{hot}/", "/api/health/live/"):
            wrk(base + url, connections=4, seconds=1)
        wrk(base + "/api/health/live/", connections=levels[0], seconds=2)
        print(f"server {base}; load average {os.getloadavg()[0]:.1f}", flush=True)
        trivial_url = base + "/api/health/live/"
        for round_number in range(1, args.rounds + 1):
            for connections in levels:
                before = wrk(trivial_url, connections=connections, seconds=args.duration)
                for name, (method, target, cookies) in targets.items():
                    if cookies is placed_cookies_file:
                        placed.ensure(session_ids)
                    if method == "POST":
                        reset(session_ids)
                        placed.forget()
                        env = {
                            "BENCH_TOKENS": str(tokens_file),
                            "BENCH_SESSIONS": ",".join(map(str, target)),
                            "BENCH_OFFSET": str(offset),
                        }
                        figures = wrk(
                            base + "/", connections=connections, seconds=args.duration, script=str(script), env=env
                        )
                        offset += figures["requests"] + connections
                        if offset + SPARED_TOKENS > len(tokens):
                            offset = 0
                        checked = verify(target, settled_count(target))
                        figures["oversold"] = checked["overbooked_sessions"]
                        figures["problems"] = checked["problems"]
                    elif cookies:
                        figures = wrk(
                            base + target,
                            connections=connections,
                            seconds=args.duration,
                            script=str(fan_script),
                            env={"BENCH_COOKIES": str(cookies)},
                        )
                    else:
                        figures = wrk(base + target, connections=connections, seconds=args.duration)
                    # The yardstick right before and right after, on the same server: the machine's
                    # drift weighs on both sides of the ratio alike.
                    after = wrk(trivial_url, connections=connections, seconds=args.duration)
                    figures["trivial"] = (before["rate"] + after["rate"]) / 2
                    figures["ratio"] = figures["rate"] / figures["trivial"]
                    before = after
                    results.setdefault((name, connections), []).append(figures)
                    extra = f" oversold {figures['oversold']}" if "oversold" in figures else ""
                    print(
                        f"round {round_number} c={connections:<4} {name:<16} {figures['rate']:8.0f} req/s "
                        f"p50 {figures['p50']:7.1f} ms p99 {figures['p99']:7.1f} ms errors {figures['errors']:<5} "
                        f"trivial {figures['trivial']:6.0f} req/s ratio {figures['ratio']:5.2f}{extra}",
                        flush=True,
                    )
        sellouts = []
        if args.sellouts and (not args.only or "sellouts" in args.only.split(",")):
            for _ in range(args.sellouts):
                reset(session_ids)
                Session.objects.filter(id=hot).update(capacity=100)
                env = {"BENCH_TOKENS": str(tokens_file), "BENCH_SESSIONS": str(hot), "BENCH_OFFSET": str(offset)}
                figures = wrk(base + "/", connections=200, seconds=2, script=str(script), env=env)
                offset = (offset + figures["requests"] + 200) % max(1, len(tokens) - SPARED_TOKENS)
                count = settled_count([hot])
                sellouts.append(first_registrations_times(hot, 100))
                checked = verify([hot], count)
                if checked["problems"]:
                    print("PROBLEMS", checked["problems"])
            reset(session_ids)
            Session.objects.filter(id=hot).update(capacity=40)
            done = [s for s in sellouts if s is not None]
            print(
                "100-seat sell-outs (s): "
                + ", ".join(f"{s:.3f}" if s is not None else "not sold out" for s in sellouts)
                + (f"; median {statistics.median(done):.3f}" if done else ""),
                flush=True,
            )
    print("\nmedians over rounds (ratio = rate / the trivial endpoint's rate right before and after)")
    for (name, connections), runs in results.items():
        ratios = [run["ratio"] for run in runs]
        print(
            f"c={connections:<4} {name:<16} {statistics.median(r['rate'] for r in runs):8.0f} req/s  "
            f"trivial {statistics.median(r['trivial'] for r in runs):6.0f} req/s  "
            f"ratio median {statistics.median(ratios):.2f} (range {min(ratios):.2f}-{max(ratios):.2f}, "
            f"{sum(r < 1 / 3 for r in ratios)} of {len(ratios)} below 1/3)  errors {sum(r['errors'] for r in runs)}"
        )
    return 0


def settled_count(session_ids: list[int]) -> int:
    """The number of registrations once the server has answered what wrk left in flight."""
    last, deadline = -1, time.monotonic() + 20
    while time.monotonic() < deadline:
        now = registration_count(session_ids)
        if now == last:
            return now
        last = now
        time.sleep(0.5)
    return last


def registration_count(session_ids: list[int]) -> int:
    from registrations.models import Registration

    return Registration.objects.filter(session_id__in=session_ids).count()


if __name__ == "__main__":
    raise SystemExit(main())
