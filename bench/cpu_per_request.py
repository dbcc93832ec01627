"""Where a request's CPU goes in the running server, and how wrk's connections split between workers.

Starts gunicorn as the rush benchmarks do (production's throttles and cache in Redis; ``--workers`` x
``--threads``) and, for each target in turn, drives it with wrk for ``--duration`` seconds while
reading from ``/proc``: the CPU time of the gunicorn processes, of every PostgreSQL process and of
the Redis server at ``--redis-url``, wrk's own CPU, and how busy the whole machine was. Each is
printed per request. Halfway through each run it counts, with ``ss``, how many of wrk's connections
each worker holds: wrk keeps its connections for the whole run, so that split decides a run.

    .venv/bin/python bench/cpu_per_request.py --database-url postgres://postgres@127.0.0.1:5432/aperture_rush_bench \\
        --redis-url redis://127.0.0.1:6381/12 --targets trivial,register-5,home-fan,trivial

Targets: trivial (GET /api/health/live/), register-1 / register-5 (POST a registration, every
request another fan's token, one or five sessions), home-fan / session-fan (GET / or a session page,
every request another signed-in fan, none of whom holds a place), home-fan-placed / session-fan-placed
(the same, every fan holding a place on the session), home-visitor (GET / signed out). Use a scratch database: its
bench rows are replaced.
"""

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.registration_rush import reset, seed  # noqa: E402 - after the path is set
from bench.rush_common import measured_server, prepare_database  # noqa: E402
from bench.rush_pages import (  # noqa: E402
    FAN_PAGE_LUA,
    REGISTER_LUA,
    PlacedFans,
    settled_count,
    signed_in_cookies,
    signed_in_fans,
    wrk_command,
    wrk_figures,
)

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    """User and system CPU of these processes so far (those that have ended count nothing)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def children_cpu() -> float:
    """CPU of the child processes waited for so far (wrk, and the ``ss`` run during it)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return children.ru_utime + children.ru_stime


def machine_ticks() -> list[int]:
    return [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]


def processes(redis_port: str) -> dict[str, list[int]]:
    """The pids of gunicorn (master and workers), PostgreSQL and the Redis server on ``redis_port``."""
    found: dict[str, list[int]] = {"gunicorn": [], "postgres": [], "redis": []}
    listing = subprocess.run(["ps", "-eo", "pid,comm,args"], capture_output=True, text=True).stdout
    for line in listing.splitlines()[1:]:
        pid, command, args = (line.split(None, 2) + [""])[:3]
        if "gunicorn" in args:
            found["gunicorn"].append(int(pid))
        elif command == "postgres":
            found["postgres"].append(int(pid))
        elif command.startswith("redis-server") and f":{redis_port}" in args:
            found["redis"].append(int(pid))
    return found


def connection_split(port: int) -> str:
    """Established connections to ``port`` per server process, e.g. ``30/34``."""
    if shutil.which("ss") is None:
        return "?"
    out = subprocess.run(
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True, text=True
    ).stdout
    per_pid: dict[str, int] = {}
    for line in out.splitlines():
        for part in line.split("pid=")[1:]:
            pid = part.split(",", 1)[0]
            per_pid[pid] = per_pid.get(pid, 0) + 1
    return "/".join(str(n) for n in sorted(per_pid.values(), reverse=True)) or "-"


def record_split(into: list[str], port: int) -> None:
    into.append(connection_split(port))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432/aperture_rush_bench")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/12")
    parser.add_argument("--targets", default="trivial,register-5,home-fan,trivial")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (production's default on 2 cores)")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    args.base_url = ""

    prepare_database(args.database_url, args.redis_url)
    session_ids, tokens = seed(fans=30_000, sessions=5, capacity=40)
    reset(session_ids)
    scratch = Path(tempfile.mkdtemp())
    (scratch / "tokens.txt").write_text("\n".join(tokens) + "\n")
    (scratch / "register.lua").write_text(REGISTER_LUA)
    without_place, with_place = signed_in_fans(30_000, 5000)
    (scratch / "cookies.txt").write_text("\n".join(signed_in_cookies(without_place)) + "\n")
    (scratch / "placed.txt").write_text("\n".join(signed_in_cookies(with_place)) + "\n")
    (scratch / "fan_page.lua").write_text(FAN_PAGE_LUA)
    placed = PlacedFans(with_place, session_ids[0])
    redis_port = args.redis_url.rsplit(":", 1)[1].split("/", 1)[0]
    offset = 0
    with measured_server(args) as (host, port):
        base = f"http://{host}:{port}"
        for url in ("/api/health/live/", "/", f"/sessions/{session_ids[0]}/"):  # warm
            subprocess.run(wrk_command(base + url, connections=4, seconds=1), capture_output=True)
        for target in args.targets.split(","):
            env, script, url = dict(os.environ), "", base + "/api/health/live/"
            if target.startswith("register"):
                settled_count(session_ids)  # the last run's requests in flight are answered first
                reset(session_ids)
                placed.forget()
                sessions = session_ids[:1] if target == "register-1" else session_ids
                env.update(
                    BENCH_TOKENS=str(scratch / "tokens.txt"),
                    BENCH_SESSIONS=",".join(map(str, sessions)),
                    BENCH_OFFSET=str(offset),
                )
                script, url = str(scratch / "register.lua"), base + "/"
            elif target in ("home-fan", "session-fan", "home-fan-placed", "session-fan-placed"):
                if target.endswith("placed"):
                    placed.ensure(session_ids)
                cookies = "placed.txt" if target.endswith("placed") else "cookies.txt"
                env.update(BENCH_COOKIES=str(scratch / cookies))
                script = str(scratch / "fan_page.lua")
                url = base + ("/" if target.startswith("home") else f"/sessions/{session_ids[0]}/")
            elif target == "home-visitor":
                url = base + "/"
            elif target != "trivial":
                parser.error(f"unknown target {target}")
            pids = processes(redis_port)
            before = {name: cpu_seconds(ids) for name, ids in pids.items()}
            ticks_before = machine_ticks()
            command = wrk_command(url, connections=args.connections, seconds=args.duration, script=script)
            split: list[str] = []
            timer = threading.Timer(args.duration / 2, record_split, args=(split, port))
            timer.start()
            wrk_before = children_cpu()
            done = subprocess.run(command, capture_output=True, text=True, env=env)
            wrk_used = children_cpu() - wrk_before  # with the one ``ss`` run, which is small
            timer.join()
            ticks = [b - a for a, b in zip(ticks_before, machine_ticks(), strict=True)]
            used = {name: cpu_seconds(ids) - before[name] for name, ids in pids.items()}
            used["wrk"] = wrk_used
            figures = wrk_figures(done.stdout, done.stderr, command)
            requests = max(1, figures["requests"])
            offset += requests + args.connections
            busy = 1 - (ticks[3] + ticks[4]) / sum(ticks)  # idle and iowait
            print(
                f"{target:<12} {figures['rate']:7.0f} req/s  CPU ms/request: "
                + "  ".join(f"{name} {seconds / requests * 1000:.2f}" for name, seconds in used.items())
                + f"  machine busy {busy * 100:.0f}%  connections per worker {split[0] if split else '?'}"
                + f"  errors {figures['errors']}",
                flush=True,
            )
            time.sleep(0.5)
        settled_count(session_ids)
        reset(session_ids)
    return 0


if __name__ == "__main__":
    sys.exit(main())
