"""Websocket viewers that behave like the pages' script (frontend/static/frontend/live.js): after a
drop they reconnect by themselves with exponential backoff and jitter (1 s doubling to 30 s, a
delay between half and all of it), and start again from 1 s once connected."""

from __future__ import annotations

import asyncio
import json
import random
import time
import uuid
from pathlib import Path

BACKOFF_MIN_SECONDS = 1.0
BACKOFF_MAX_SECONDS = 30.0


class Viewer:
    def __init__(self, url: str) -> None:
        from streams.viewer_ids import VIEWER_COOKIE, signed_viewer_id

        self.url = url
        # A distinct browser: the signed viewer id a stream page would have handed out.
        self.headers = {"Cookie": f"{VIEWER_COOKIE}={signed_viewer_id(uuid.uuid4().hex)}"}
        self.last: dict | None = None
        self.connects = 0
        self.drops = 0
        self.connected = False
        self._stopped = False
        self._ws = None
        self._opened = asyncio.Event()
        self.task = asyncio.get_running_loop().create_task(self._run())

    @property
    def concurrent(self) -> int | None:
        return self.last["concurrent"] if self.last else None

    async def _run(self) -> None:
        from websockets.asyncio.client import connect
        from websockets.exceptions import InvalidHandshake, WebSocketException

        attempts = 0
        while not self._stopped:
            try:
                async with connect(
                    self.url,
                    open_timeout=30,
                    max_queue=None,
                    compression=None,
                    additional_headers=self.headers,
                ) as ws:
                    self._ws = ws
                    self.connected = True
                    self.connects += 1
                    attempts = 0
                    self._opened.set()
                    async for raw in ws:
                        message = json.loads(raw)
                        if message.get("type") == "viewers":
                            self.last = message
            except (OSError, TimeoutError, InvalidHandshake, WebSocketException):
                pass
            self.connected = False
            self._ws = None
            if self._stopped:
                return
            self.drops += 1
            base = min(BACKOFF_MAX_SECONDS, BACKOFF_MIN_SECONDS * 2**attempts)
            attempts += 1
            await asyncio.sleep(base / 2 + random.random() * base / 2)

    async def opened(self, timeout: float) -> None:
        await asyncio.wait_for(self._opened.wait(), timeout)

    async def close(self) -> None:
        self._stopped = True
        if self._ws is not None:
            await self._ws.close()
        self.task.cancel()
        try:
            await self.task
        except asyncio.CancelledError:
            pass


async def open_viewers(url: str, count: int, *, batch: int = 50, timeout: float = 60) -> list[Viewer]:
    viewers: list[Viewer] = []
    for start in range(0, count, batch):
        group = [Viewer(url) for _ in range(min(batch, count - start))]
        await asyncio.gather(*(viewer.opened(timeout) for viewer in group))
        viewers += group
    return viewers


async def close_viewers(viewers: list[Viewer]) -> None:
    await asyncio.gather(*(viewer.close() for viewer in viewers))


async def wait_until(predicate, *, timeout: float, interval: float = 0.1) -> float:
    """Seconds until ``predicate()`` held; TimeoutError if it did not within ``timeout``."""
    started = time.monotonic()
    while not predicate():
        if time.monotonic() - started > timeout:
            raise TimeoutError(f"not within {timeout} s")
        await asyncio.sleep(interval)
    return time.monotonic() - started


def connected_by_port(ports: list[int]) -> dict[int, int]:
    """Established TCP connections accepted on each of ``ports`` (this network namespace, from
    /proc/net/tcp*): how many websockets nginx holds open to each ASGI worker."""
    counts = dict.fromkeys(ports, 0)
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if fields[3] == "01" and local_port in counts:
                counts[local_port] += 1
    return counts
