"""Real uvicorn processes and real websocket clients for the live-audience tests.

Servers run ``project.asgi`` on 127.0.0.1 and a port the kernel picks (``--port 0``), on the test
database (tests using them are ``transaction=True``, see tests.frontend.live_server), with short
presence ticks given through the same environment variables an operator would use."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime

from django.conf import settings

STARTUP_TIMEOUT_SECONDS = 30
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


class Server:
    """One uvicorn worker process. ``kill()`` is SIGKILL: no cleanup code of ours runs."""

    def __init__(self, *, database_url: str, env: dict[str, str], access_log: bool = False) -> None:
        full_env = dict(os.environ)
        full_env.update(
            {
                "DATABASE_URL": database_url,
                "DB_CONN_MAX_AGE": "0",
                "DJANGO_SETTINGS_MODULE": "project.settings",
                "THROTTLE_ANON": "",
                "THROTTLE_USER": "",
                "PYTHONUNBUFFERED": "1",
                "LOG_LEVEL": "WARNING",
            }
        )
        full_env.pop("REDIS_URL", None)
        full_env.update(env)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "project.asgi:application", "--host", "127.0.0.1", "--port", "0"]
            + ["--lifespan", "on", "--log-level", "info"]
            + ([] if access_log else ["--no-access-log"]),
            cwd=settings.BASE_DIR,
            env=full_env,
            stdout=subprocess.PIPE if access_log else subprocess.DEVNULL,  # uvicorn's access log goes to stdout
            stderr=subprocess.STDOUT if access_log else subprocess.PIPE,
            text=True,
        )
        self.output: list[str] = []
        lines: queue.Queue[str] = queue.Queue()

        output = self.process.stdout if access_log else self.process.stderr

        def drain() -> None:
            assert output is not None
            for line in output:
                self.output.append(line)
                lines.put(line)

        self._reader = threading.Thread(target=drain, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        self.port = 0
        while not self.port:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self.process.poll() is not None:
                self.stop()
                raise RuntimeError("uvicorn did not start:\n" + "".join(self.output))
            try:
                match = _RUNNING.search(lines.get(timeout=min(remaining, 0.5)))
            except queue.Empty:
                continue
            if match:
                self.port = int(match.group(1))

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def ws(self, path: str) -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._reader.join(timeout=5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


@dataclass
class Client:
    """A websocket client that records every viewers message with its arrival time."""

    url: str
    origin: str
    headers: dict[str, str] | None = None  # e.g. the viewer cookie a stream page would have set
    messages: list[tuple[float, dict]] = field(default_factory=list)
    ws: object | None = None
    task: asyncio.Task | None = None
    close_code: int | None = None

    async def open(self) -> Client:
        from websockets.asyncio.client import connect

        self.ws = await connect(
            self.url, origin=self.origin, open_timeout=60, max_queue=None, additional_headers=self.headers
        )
        _OPEN.append(self)
        self.task = asyncio.get_running_loop().create_task(self._read())
        return self

    async def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            async for raw in self.ws:  # type: ignore[attr-defined]
                message = json.loads(raw)
                if message.get("type") == "viewers":
                    self.messages.append((time.monotonic(), message))
        except ConnectionClosed:
            pass
        self.close_code = self.ws.close_code  # type: ignore[attr-defined]

    async def close(self) -> None:
        await self.ws.close()  # type: ignore[attr-defined]
        await self.ws.wait_closed()  # type: ignore[attr-defined]
        if self.task is not None:
            await self.task

    @property
    def last(self) -> dict | None:
        return self.messages[-1][1] if self.messages else None

    def sent_at(self) -> list[float]:
        """When the server sent each message (its ``at``, epoch seconds): unlike arrival times these
        do not bunch up when this test's own event loop is busy."""
        return [datetime.fromisoformat(m["at"]).timestamp() for _, m in self.messages]

    def count_sent_between(self, start: float, end: float) -> int:
        return sum(1 for at in self.sent_at() if start <= at < end)


_OPEN: list[Client] = []


def run(scenario):
    """asyncio.run(scenario()), then close every client it opened (even when it failed), so that no
    socket outlives its event loop."""

    async def wrapped():
        try:
            return await scenario()
        finally:
            clients = list(_OPEN)
            _OPEN.clear()
            await asyncio.gather(*(c.close() for c in clients), return_exceptions=True)
            await asyncio.sleep(0.05)  # let the transports finish closing their sockets

    return asyncio.run(wrapped())


def browser(viewer_id: str) -> dict[str, str]:
    """The headers of a browser that got ``viewer_id`` from a stream page (the signed cookie)."""
    from streams.viewer_ids import VIEWER_COOKIE, signed_viewer_id

    return {"Cookie": f"{VIEWER_COOKIE}={signed_viewer_id(viewer_id)}"}


async def open_clients(
    server: Server, path: str, n: int, *, batch: int = 50, browsers: bool = False, first_id: int = 0
) -> list[Client]:
    """``n`` sockets; with ``browsers`` each is a distinct browser (its own signed viewer id)."""
    clients: list[Client] = []
    for first in range(0, n, batch):
        group = [
            Client(server.ws(path), server.http, browser(f"browser-{first_id + first + k:06}") if browsers else None)
            for k in range(min(batch, n - first))
        ]
        await asyncio.gather(*(c.open() for c in group))
        clients += group
    return clients


async def close_clients(clients: list[Client]) -> None:
    await asyncio.gather(*(c.close() for c in clients))


async def wait_until(predicate, *, timeout: float, interval: float = 0.02) -> float:
    """Seconds until ``predicate()`` held; raises AssertionError after ``timeout``."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout:
            raise AssertionError(f"condition not met within {timeout:.2f}s")
        await asyncio.sleep(interval)
    return time.monotonic() - start


class TcpProxy:
    """A loopback TCP forwarder that can be cut (every connection dropped, new ones refused) and
    restored: a Redis outage for a server process without touching the shared Redis."""

    def __init__(self, target_host: str, target_port: int) -> None:
        import socket

        self.target = (target_host, target_port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.up = True
        self._lock = threading.Lock()
        self._sockets: list = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket

        while not self._closed:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self._lock:
                self._sockets += [client, upstream]
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client), daemon=True).start()

    @staticmethod
    def _pump(source, target) -> None:
        try:
            while data := source.recv(65536):
                target.sendall(data)
        except OSError:
            pass
        for sock in (source, target):
            try:
                sock.close()
            except OSError:
                pass

    def cut(self) -> None:
        import socket

        self.up = False
        with self._lock:
            sockets, self._sockets = self._sockets, []
        for sock in sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()

    def restore(self) -> None:
        self.up = True

    def close(self) -> None:
        self._closed = True
        self.cut()
        self.listener.close()
