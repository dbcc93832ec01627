"""Live audience benchmark (issue 5): how many websockets one worker holds, and how long a change of
the figures takes to reach the last of N clients.

A real uvicorn server (``project.asgi``; one or two worker processes; in-memory or Redis presence)
on 127.0.0.1, and real websocket clients (the ``websockets`` library) in separate processes.

1. Ramp up N viewer connections to one stream (spread over the client processes); report how many
   were accepted, the server's resident memory before/after and per connection.
2. Rounds of changes: a probe connection joins (or leaves) at a known moment; every client records
   when the first message with the new figure arrived. Reported per round and over all rounds:
   - ``fanout``: from the server's tick that computed the figure (the message's ``at``) to arrival;
   - ``e2e``: from the probe's join/leave to arrival (adds the wait for the next tick, up to one tick).
   The figure is "the last of N clients": max, and p99 / p50 over clients.

    .venv/bin/python bench/ws_audience.py --clients 10000                      # in-memory, 1 worker
    REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python bench/ws_audience.py --clients 10000
    REDIS_URL=redis://127.0.0.1:6379/1 .venv/bin/python bench/ws_audience.py --clients 10000 --workers 2

Bounded: every wait has a timeout; the server and client processes are stopped at the end. The
database is a scratch SQLite file in a temporary directory (the benchmark is about websockets).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import multiprocessing as mp
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def raise_fd_limit() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# --- set-up ---------------------------------------------------------------------------------------


def prepare_database(directory: str) -> tuple[str, int]:
    """A scratch SQLite database with one live stream; returns (DATABASE_URL, stream id)."""
    url = f"sqlite:///{directory}/bench.sqlite3"
    return url, create_stream(url)


def create_stream(url: str) -> int:
    """A new live stream in the database at ``url`` (migrated first); returns its id."""
    script = (
        "import django; django.setup();"
        "from django.core.management import call_command; call_command('migrate', verbosity=0);"
        "from accounts.models import Organization; from streams.models import Stream;"
        "org, _ = Organization.objects.get_or_create(slug='bench', defaults={'name': 'Bench'});"
        "s = Stream.objects.create(organization=org, title='Grotto night tour', status='live');"
        "print(s.id)"
    )
    env = dict(os.environ, DATABASE_URL=url, DJANGO_SETTINGS_MODULE="project.settings")
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    return int(out.stdout.strip().splitlines()[-1])


def start_server(database_url: str, workers: int, cpus: str = "") -> tuple[subprocess.Popen, int, socket.socket]:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(4096)
    port = sock.getsockname()[1]
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        DJANGO_SETTINGS_MODULE="project.settings",
        LOG_LEVEL="WARNING",
        PRESENCE_REDIS_PREFIX=f"aperture-bench:{uuid.uuid4().hex}",
        WS_MAX_SOCKETS_PER_ADDRESS="0",  # every simulated viewer comes from 127.0.0.1
    )
    cmd = [sys.executable, "-m", "uvicorn", "project.asgi:application", "--fd", str(sock.fileno())]
    cmd += ["--lifespan", "on", "--no-access-log", "--log-level", "warning", "--backlog", "4096"]
    cmd += ["--ws-per-message-deflate", "false"]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    if cpus:
        cmd = ["taskset", "-c", cpus, *cmd]  # the workers inherit the parent's CPUs
    process = subprocess.Popen(cmd, cwd=ROOT, env=env, pass_fds=[sock.fileno()], start_new_session=True)
    return process, port, sock


def worker_pids(process: subprocess.Popen, workers: int) -> list[int]:
    if workers == 1:
        return [process.pid]
    try:
        children = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
    except OSError:
        return [process.pid]
    return [int(pid) for pid in children]


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time used so far by ``pids`` (from /proc/<pid>/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
        except (OSError, IndexError, ValueError):
            pass
    return total / ticks


def open_sockets(pid: int) -> int:
    try:
        return sum(1 for fd in Path(f"/proc/{pid}/fd").iterdir() if os.readlink(fd).startswith("socket:"))
    except OSError:
        return 0


def rss_kib(pids: list[int]) -> int:
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total


def wait_ready(base: str, stream_id: int, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection(base, timeout=2)
            conn.request("GET", f"/api/streams/{stream_id}/stats/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError("server did not start")


# --- client processes ------------------------------------------------------------------------------


def pin(cpus: str) -> None:
    """Run this process on ``cpus`` ("1", "0,1", "2-3"): the load generator off the server's cores."""
    if not cpus:
        return
    chosen: set[int] = set()
    for part in cpus.split(","):
        low, _, high = part.partition("-")
        chosen |= set(range(int(low), int(high or low) + 1))
    os.sched_setaffinity(0, chosen)


def client_process(
    base: str, stream_id: int, count: int, commands, results, source: str = "", cpus: str = "", raw: bool = True
) -> None:
    """Holds ``count`` connections; on command reports when each first saw a given concurrent value.
    ``source``: the local address to connect from (each client process its own 127.0.0.x, so that
    20,000+ connections to one port do not run out of ephemeral ports)."""
    pin(cpus)
    raise_fd_limit()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    asyncio.run(_client_main(base, stream_id, count, commands, results, source, raw))


class RawViewer(asyncio.Protocol):
    """A minimal websocket client (RFC 6455) for the load generator: the upgrade request, then frames
    parsed by hand; it answers pings and cuts ``concurrent`` and ``at`` out of each text message.
    About ten times cheaper per message than the ``websockets`` library, so that with 5,000-10,000
    sockets per client process the clients, not the server, are not what delays the last arrival."""

    def __init__(self, host: str, path: str, record: dict) -> None:
        self.host = host
        self.path = path
        self.record = record
        record[-1] = (0.0, 0.0)
        self.last: int | None = None
        self.buf = bytearray()
        self.upgraded = False
        self.transport: asyncio.Transport | None = None
        self.ready: asyncio.Future = asyncio.get_running_loop().create_future()

    def connection_made(self, transport) -> None:
        self.transport = transport
        key = base64.b64encode(os.urandom(16)).decode()
        transport.write(
            (
                f"GET {self.path} HTTP/1.1\r\nHost: {self.host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nOrigin: http://{self.host}\r\n\r\n"
            ).encode()
        )

    def connection_lost(self, exc) -> None:
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the upgrade"))

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            if not head.startswith(b"HTTP/1.1 101"):
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode()))
                return
            self.upgraded = True
            self.ready.set_result(True)
        while len(buf) >= 2:
            size, start = buf[1] & 0x7F, 2
            if size == 126:
                if len(buf) < 4:
                    return
                size, start = int.from_bytes(buf[2:4], "big"), 4
            elif size == 127:
                if len(buf) < 10:
                    return
                size, start = int.from_bytes(buf[2:10], "big"), 10
            if len(buf) < start + size:
                return
            opcode = buf[0] & 0x0F
            payload = bytes(buf[start : start + size])
            del buf[: start + size]
            if opcode == 0x1:
                self.on_text(payload)
            elif opcode == 0x9 and self.transport is not None:  # ping: a masked pong with its payload
                mask = os.urandom(4)
                masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)

    def on_text(self, raw: bytes) -> None:
        now = time.time()
        start = raw.find(b'"concurrent":')
        if start < 0:
            return
        start += 13
        value = int(raw[start : raw.find(b",", start)])
        if value != self.last:
            at = raw.find(b'"at":"') + 6
            self.record[value] = (now, raw[at : raw.find(b'"', at)].decode())
        self.last = value
        self.record[-1] = (float(value), now)

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            mask = os.urandom(4)
            code = (1000).to_bytes(2, "big")
            self.transport.write(bytes([0x88, 0x82]) + mask + bytes(b ^ mask[i] for i, b in enumerate(code)))
            self.transport.close()


async def _open_raw(base: str, stream_id: int, count: int, source: str, seen: list, conns: list) -> int:
    loop = asyncio.get_running_loop()
    host, port = base.rsplit(":", 1)
    path = f"/ws/streams/{stream_id}/"
    failures = 0

    async def one() -> RawViewer:
        record: dict = {}
        _, viewer = await loop.create_connection(
            lambda: RawViewer(base, path, record), host, int(port), **({"local_addr": (source, 0)} if source else {})
        )
        await asyncio.wait_for(viewer.ready, 60)
        return viewer

    for first in range(0, count, 100):
        opened = await asyncio.gather(*(one() for _ in range(min(100, count - first))), return_exceptions=True)
        for viewer in opened:
            if isinstance(viewer, BaseException):
                failures += 1
                continue
            seen.append(viewer.record)
            conns.append(viewer)
    return failures


async def _client_main(base, stream_id, count, commands, results, source: str = "", raw: bool = True) -> None:
    from websockets.asyncio.client import connect

    url = f"ws://{base}/ws/streams/{stream_id}/"
    origin = f"http://{base}"
    seen: list[dict[int, tuple[float, float]]] = []  # per connection: concurrent -> (arrival, sent at)
    conns = []

    async def reader(ws, record: dict[int, tuple[float, float]]) -> None:
        last = None
        record[-1] = (0.0, 0.0)
        try:
            async for raw in ws:
                now = time.time()
                # Cut out the two fields instead of parsing (the server's compact JSON): with 10,000+
                # sockets per client process, json.loads and fromisoformat per message would make the
                # load generator, not the server, the last to see a change. "at" is parsed when collected.
                start = raw.find('"concurrent":')
                if start < 0:
                    continue
                start += 13
                value = int(raw[start : raw.find(",", start)])
                if value != last:  # when this value was (again) first seen
                    at = raw.find('"at":"') + 6
                    record[value] = (now, raw[at : raw.find('"', at)])  # type: ignore[assignment]
                last = value
                record[-1] = (float(value), now)  # the latest figure, for the report of stragglers
        except Exception:  # noqa: S110 - connection closed at the end
            pass

    failures = 0
    if raw:
        failures = await _open_raw(base, stream_id, count, source, seen, conns)
    for first in range(0, 0 if raw else count, 100):
        batch = min(100, count - first)
        opened = await asyncio.gather(
            *(
                connect(
                    url,
                    origin=origin,
                    compression=None,
                    ping_interval=None,
                    open_timeout=60,
                    **({"local_addr": (source, 0)} if source else {}),
                )
                for _ in range(batch)
            ),
            return_exceptions=True,
        )
        for ws in opened:
            if isinstance(ws, BaseException):
                failures += 1
                continue
            record: dict[int, tuple[float, float]] = {}
            seen.append(record)
            conns.append((ws, asyncio.create_task(reader(ws, record))))
    results.put(("connected", len(conns), failures))
    loop = asyncio.get_running_loop()
    while True:
        command = await loop.run_in_executor(None, commands.get)
        if command[0] == "collect":
            value, since, timeout = command[1], command[2], command[3]

            def arrived(r: dict[int, tuple[float, float]], value=value, since=since) -> bool:
                got = r.get(value)
                return got is not None and got[0] >= since

            def fresh(r: dict[int, tuple[float, float]], value=value) -> tuple[float, float] | None:
                if not arrived(r):
                    return None
                arrival, sent = r[value]
                return (arrival, datetime.fromisoformat(sent).timestamp() if isinstance(sent, str) else sent)

            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and not all(arrived(r) for r in seen):
                await asyncio.sleep(0.05)
            stragglers: dict[int, int] = {}
            for r in seen:
                if not arrived(r):
                    stragglers[int(r[-1][0])] = stragglers.get(int(r[-1][0]), 0) + 1
            results.put(("seen", [fresh(r) for r in seen], stragglers))
        elif command[0] == "stop":
            if raw:
                for viewer in conns:
                    viewer.close()
                await asyncio.sleep(0.5)
            else:
                await asyncio.gather(*(ws.close() for ws, _ in conns), return_exceptions=True)
            results.put(("stopped",))
            return


# --- the run -------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10_000, help="viewer connections (default 10000)")
    parser.add_argument("--procs", type=int, default=4, help="client processes (default 4)")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes (default 1)")
    parser.add_argument("--rounds", type=int, default=6, help="changes measured (default 6)")
    parser.add_argument(
        "--base-url",
        default="",
        help="a server already running (e.g. make prod's nginx, http://127.0.0.1:8080): start none; "
        "the stream is created in --database-url, which must be that server's database",
    )
    parser.add_argument("--database-url", default="", help="with --base-url: the server's database")
    parser.add_argument(
        "--server-cpus", default="", help="taskset CPU list for the server's workers (e.g. 0); default: any"
    )
    parser.add_argument(
        "--client-cpus", default="", help="CPU list for the load generator's processes (e.g. 1); default: any"
    )
    parser.add_argument(
        "--client",
        choices=["raw", "websockets"],
        default="raw",
        help="the load generator's websocket client: a minimal hand-parsed one (default) or the websockets library",
    )
    args = parser.parse_args()
    if args.base_url:
        if not args.database_url:
            parser.error("--base-url needs --database-url (the server's database, to create the stream in)")
        base_url_main(args)
        return
    limit = raise_fd_limit()
    backend = "redis" if os.environ.get("REDIS_URL") else "memory"
    print(
        f"backend={backend} workers={args.workers} clients={args.clients} client_procs={args.procs} fd_limit={limit} "
        f"server_cpus={args.server_cpus or 'any'} client_cpus={args.client_cpus or 'any'}"
    )
    pin(args.client_cpus)  # the probe and this coordinator are load generator too
    print(f"load average before: {os.getloadavg()}")
    with tempfile.TemporaryDirectory() as directory:
        database_url, stream_id = prepare_database(directory)
        process, port, sock = start_server(database_url, args.workers, args.server_cpus)
        try:
            measure(f"127.0.0.1:{port}", stream_id, args, lambda: worker_pids(process, args.workers))
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=20)
            sock.close()
    print(f"load average after: {os.getloadavg()}")


def base_url_main(args) -> None:
    """``--base-url``: the same measurement against a server someone else runs (no RSS figures)."""
    from urllib.parse import urlsplit

    parsed = urlsplit(args.base_url)
    if parsed.scheme != "http" or not parsed.netloc:
        raise SystemExit(f"--base-url: plain http://host:port expected, got {args.base_url!r}")
    limit = raise_fd_limit()
    print(f"base_url={args.base_url} clients={args.clients} client_procs={args.procs} fd_limit={limit}")
    print(f"load average before: {os.getloadavg()}")
    stream_id = create_stream(args.database_url)
    measure(parsed.netloc, stream_id, args, None)
    print(f"load average after: {os.getloadavg()}")


def measure(base: str, stream_id: int, args, server_pids) -> None:
    """Ramp up the clients against ``base`` (host:port), then the rounds of changes."""
    ctx = mp.get_context("spawn")
    clients: list = []
    wait_ready(base, stream_id)
    time.sleep(1.0)
    rss_before = rss_kib(server_pids()) if server_pids else 0
    cpu_start = cpu_seconds(server_pids()) if server_pids else 0.0
    commands = [ctx.Queue() for _ in range(args.procs)]
    results = ctx.Queue()
    share = [args.clients // args.procs + (1 if i < args.clients % args.procs else 0) for i in range(args.procs)]
    try:
        started = time.monotonic()
        for i in range(args.procs):
            source = f"127.0.0.{2 + i}" if base.startswith("127.0.0.1:") else ""
            p = ctx.Process(
                target=client_process,
                args=(base, stream_id, share[i], commands[i], results, source, args.client_cpus, args.client == "raw"),
            )
            p.start()
            clients.append(p)
        connected = failures = 0
        for _ in range(args.procs):
            kind, ok, failed = results.get(timeout=900)
            connected += ok
            failures += failed
        ramp = time.monotonic() - started
        time.sleep(3.0)  # let the figures settle and the allocator catch up
        print(f"connected {connected} of {args.clients} in {ramp:.1f}s ({connected / ramp:.0f}/s), {failures} failed")
        thousands = max(connected, 1) / 1000
        if server_pids:
            pids = server_pids()
            rss_after = rss_kib(pids)
            print(
                f"server RSS {rss_before / 1024:.0f} MiB -> {rss_after / 1024:.0f} MiB "
                f"({(rss_after - rss_before) * 1024 / max(connected, 1) / 1024:.1f} KiB per connection); "
                f"sockets per worker {[open_sockets(pid) for pid in pids]}"
            )
            ramp_cpu = cpu_seconds(pids) - cpu_start
            idle_from, idle_cpu_from = time.monotonic(), cpu_seconds(pids)
            time.sleep(5.0)
            idle = (cpu_seconds(pids) - idle_cpu_from) / (time.monotonic() - idle_from)
            print(
                f"server CPU: ramp {ramp_cpu / thousands:.2f} s per 1,000 connections; holding "
                f"{100 * idle / thousands:.2f} % of a core per 1,000 viewers (no changes, ticks only)"
            )
        rounds_from, rounds_cpu_from = time.monotonic(), cpu_seconds(server_pids()) if server_pids else 0.0
        asyncio.run(rounds(base, stream_id, connected, args.rounds, commands, results, args.procs))
        if server_pids:
            spent = cpu_seconds(server_pids()) - rounds_cpu_from - idle * (time.monotonic() - rounds_from)
            print(
                f"server CPU per change (above holding): {1000 * spent / args.rounds / thousands:.1f} ms "
                f"per 1,000 viewers ({spent / args.rounds:.2f} s per change over all workers)"
            )
        for q in commands:
            q.put(("stop",))
        for _ in range(args.procs):
            results.get(timeout=120)
    finally:
        for p in clients:
            p.join(timeout=30)
            if p.is_alive():
                p.kill()


async def rounds(base, stream_id, connected, n_rounds, commands, results, procs) -> None:
    from websockets.asyncio.client import connect

    url = f"ws://{base}/ws/streams/{stream_id}/"
    origin = f"http://{base}"
    all_fanout: list[float] = []
    all_e2e: list[float] = []
    last_client: list[float] = []
    p99_rounds: list[float] = []
    probe = None
    value = connected
    for round_no in range(n_rounds):
        await asyncio.sleep(2.5)
        changed_at = time.time()
        if probe is None:
            probe = (
                await connect(
                    url,
                    origin=origin,
                    compression=None,
                    ping_interval=None,
                    open_timeout=60,
                    local_addr=("127.0.0.250", 0),
                )
                if base.startswith("127.0.0.1:")
                else await connect(url, origin=origin, compression=None, ping_interval=None, open_timeout=60)
            )
            value += 1
        else:
            await probe.close()
            probe = None
            value -= 1
        for q in commands:
            q.put(("collect", value, changed_at, 30.0))
        seen: list = []
        stragglers: dict[int, int] = {}
        for _ in range(procs):
            kind, records, late = results.get(timeout=120)
            seen += records
            for shown, n in late.items():
                stragglers[shown] = stragglers.get(shown, 0) + n
        if stragglers:
            print(f"  clients that did not get it within 30 s, by the figure they last showed: {stragglers}")
        got = [r for r in seen if r is not None]
        if not got:
            print(f"round {round_no + 1}: nobody received concurrent={value} within 30 s")
            continue
        fanout = [arrival - sent for arrival, sent in got]
        e2e = [arrival - changed_at for arrival, _ in got]
        all_fanout += fanout
        all_e2e += e2e
        last_client.append(max(e2e) if not (len(seen) - len(got)) else float("inf"))
        p99_rounds.append(percentile(e2e, 0.99))
        missing = len(seen) - len(got)
        print(
            f"round {round_no + 1}: concurrent={value} received by {len(got)}/{len(seen)}"
            f"{f' ({missing} missing)' if missing else ''}; "
            f"fanout p50/p99/max {statistics.median(fanout):.3f}/{percentile(fanout, 0.99):.3f}/{max(fanout):.3f}s; "
            f"e2e p50/p99/max {statistics.median(e2e):.3f}/{percentile(e2e, 0.99):.3f}/{max(e2e):.3f}s"
        )
    if probe is not None:
        await probe.close()
    fan, e2e_all = all_fanout, all_e2e
    print(
        f"ALL {n_rounds} rounds: fanout p50 {statistics.median(fan):.3f}s p99 {percentile(fan, 0.99):.3f}s "
        f"max {max(fan):.3f}s | e2e p50 {statistics.median(e2e_all):.3f}s p99 {percentile(e2e_all, 0.99):.3f}s "
        f"max {max(e2e_all):.3f}s"
    )
    print(
        f"change -> last client, per round: p99 of clients {min(p99_rounds):.3f}-{max(p99_rounds):.3f}s, "
        f"last client {min(last_client):.3f}-{max(last_client):.3f}s"
    )


if __name__ == "__main__":
    main()
