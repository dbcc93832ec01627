"""A rush as fans live it: each of N signed-in fans loads the home page, opens a session page,
registers (the page's button: the session cookie and the CSRF token, as app.js sends them) and
opens "my sessions", with think times between the steps, against one session of 30 seats and one of
300 (fan i goes for the 30-seat one when i is even).

Prints per step p50/p99 latency and errors (must be 0), then the seats sold against capacity read
from the database (exactly the capacity, nobody twice, counters equal to rows), then the server's CPU
per request of each step (each step replayed alone for a few seconds, the gunicorn processes' CPU
time read from /proc). The load generator is this process (asyncio, its own small HTTP/1.1 client):
it shares no Python with the server, and its CPU share is printed.

    .venv/bin/python bench/rush_simulation.py --database-url postgres://postgres@127.0.0.1:5432/aperture_rush_bench \\
        --redis-url redis://127.0.0.1:6379/12 --fans 5000 --arrival-seconds 20
    # through a running make prod (nginx): --base-url http://127.0.0.1:8080 (CPU per step is then not read)
"""

import argparse
import asyncio
import os
import random
import secrets
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.registration_rush import (  # noqa: E402 - after the path is set
    Connection,
    reset,
    seed,
    verify,
)
from bench.rush_common import fan_session_keys, measured_server, prepare_database  # noqa: E402

STEPS = ("home", "session page", "register", "my sessions")


def fan_cookies(count: int) -> list[tuple[int, str, str]]:
    """(fan id, session cookie value, CSRF secret) for ``count`` bench fans: the secret is sent as
    the CSRF cookie and header, as the page's script does."""
    return [(fan_id, key, secrets.token_hex(16)) for fan_id, key in fan_session_keys(count)]


def headers_of(session_key: str, csrf: str) -> dict:
    return {"Cookie": f"sessionid={session_key}; csrftoken={csrf}", "Accept": "text/html,application/json"}


async def one_fan(address, fan, session_id: int, think: tuple[float, float], record) -> None:
    _fan_id, session_key, csrf = fan
    headers = headers_of(session_key, csrf)
    connection = Connection(*address)
    steps = [
        ("home", "GET", "/", b""),
        ("session page", "GET", f"/sessions/{session_id}/", b""),
        ("register", "POST", f"/api/sessions/{session_id}/registrations/", b"{}"),
        ("my sessions", "GET", "/sessions/mine/", b""),
    ]
    try:
        for step, method, path, body in steps:
            extra = {**headers, "X-CSRFToken": csrf} if method == "POST" else headers
            started = time.perf_counter()
            try:
                status, _ = await connection.request(method, path, body, extra)
            except (OSError, asyncio.IncompleteReadError):
                status = 0
            record(step, status, time.perf_counter() - started)
            await asyncio.sleep(random.uniform(*think))  # noqa: S311 - think times, not secrets
    finally:
        connection.close()


async def simulate(address, fans, sessions: tuple[int, int], arrival: float, think: tuple[float, float]) -> dict:
    latencies: dict[str, list[float]] = {step: [] for step in STEPS}
    errors: dict[str, dict[int, int]] = {step: {} for step in STEPS}

    def record(step: str, status: int, seconds: float) -> None:
        latencies[step].append(seconds)
        ok = status in (200, 201) or (step != "register" and status == 304)
        if not ok:
            errors[step][status] = errors[step].get(status, 0) + 1

    async def arrive(index: int, fan) -> None:
        await asyncio.sleep(arrival * index / len(fans))
        await one_fan(address, fan, sessions[index % 2], think, record)

    started, cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(arrive(i, fan) for i, fan in enumerate(fans)))
    elapsed = time.perf_counter() - started
    return {
        "latencies": latencies,
        "errors": errors,
        "elapsed": elapsed,
        "client_cpu_share": (time.process_time() - cpu) / elapsed,
    }


def gunicorn_pids(port: int) -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if "gunicorn" in command and f":{port}" in command:
                pids.append(int(entry.name))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / ticks  # utime + stime
    return total


async def cpu_per_request(address, pids, fans, session_id: int, seconds: float = 4.0) -> dict[str, float]:
    """Each step alone from 16 connections for ``seconds``: server CPU ms per request."""
    out = {}
    for step in STEPS:
        if step == "register":
            continue  # a fan registers once: measured by bench/rush_pages.py (register-1, register-5)
        path = {"home": "/", "session page": f"/sessions/{session_id}/", "my sessions": "/sessions/mine/"}[step]
        count = 0
        deadline = time.perf_counter() + seconds

        async def client(index: int, path: str = path, deadline: float = deadline) -> None:
            nonlocal count
            connection = Connection(*address)
            _fan_id, session_key, csrf = fans[index]
            try:
                while time.perf_counter() < deadline:
                    await connection.request("GET", path, b"", headers_of(session_key, csrf))
                    count += 1
            finally:
                connection.close()

        before = cpu_seconds(pids)
        await asyncio.gather(*(client(i) for i in range(16)))
        out[step] = (cpu_seconds(pids) - before) * 1000 / max(count, 1)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aperture_rush_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--base-url", default="")
    parser.add_argument("--fans", type=int, default=5000)
    parser.add_argument("--arrival-seconds", type=float, default=20.0, help="fans arrive evenly over this time")
    parser.add_argument("--think", default="0.5,2.0", help="think time range between steps, seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    think = tuple(float(x) for x in args.think.split(","))

    prepare_database(args.database_url, args.redis_url)
    from events.models import Session

    session_ids, _tokens = seed(fans=max(args.fans, 1000), sessions=2, capacity=30)
    Session.objects.filter(id=session_ids[1]).update(capacity=300)
    reset(session_ids)
    fans = fan_cookies(args.fans)
    server = measured_server(args)
    with server as address:
        print(f"server http://{address[0]}:{address[1]}; load average {os.getloadavg()[0]:.1f}", flush=True)
        result = asyncio.run(simulate(address, fans, (session_ids[0], session_ids[1]), args.arrival_seconds, think))
        print(
            f"{len(fans)} fans in {result['elapsed']:.1f} s (arrivals over {args.arrival_seconds:.0f} s, think "
            f"{think[0]}-{think[1]} s); load generator CPU share {result['client_cpu_share']:.2f}"
        )
        for step in STEPS:
            lat = sorted(result["latencies"][step])
            p = lambda q, lat=lat: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000  # noqa: E731
            print(
                f"  {step:<13} {len(lat):6d} requests  p50 {p(0.5):7.1f} ms  p99 {p(0.99):7.1f} ms  "
                f"errors {sum(result['errors'][step].values())} {result['errors'][step] or ''}"
            )
        count = sum(1 for _ in fans)
        checked = verify(session_ids, count)
        sold = dict(Session.objects.filter(id__in=session_ids).values_list("capacity", "confirmed_count"))
        print(f"  seats sold (capacity: sold): {sold}; checks {'ok' if checked['ok'] else checked['problems']}")
        if not args.base_url:
            pids = gunicorn_pids(address[1])
            per_step = asyncio.run(cpu_per_request(address, pids, fans, session_ids[1]))
            print("  server CPU per request: " + ", ".join(f"{k} {v:.2f} ms" for k, v in per_step.items()))
    errors = sum(sum(e.values()) for e in result["errors"].values())
    return 0 if errors == 0 and checked["ok"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
