"""The per-process side of the live audience: this process's sockets, and its ticker.

Each ASGI worker process has one ``Hub`` (bound to its event loop). Consumers call ``join``/``leave``;
the first join starts the ticker in that loop. The ticker runs a tick every ``PRESENCE_TICK_SECONDS``
(the liveness write kept for crash safety) and **at once** when woken: by a local join or leave, or by
another process's change heard on Redis pub/sub (``PresenceBackend.listen``), at most once per
``PRESENCE_MIN_REPORT_SECONDS``. A tick

1. reports this process's per-stream viewer counts, new arrivals and grace refreshes to the presence
   backend (``streams.presence``), which returns the totals summed over all live processes and, when
   this process's count changed, publishes that so the other processes tick too;
2. pushes the figures to this process's sockets through a leading-edge throttle per stream: now if
   the last push was at least ``PRESENCE_PUSH_SECONDS`` ago, else at that mark with the newest figures
   (so a client gets at most about one message a second, and a change never waits a whole period).
   Each push is encoded once per stream and written to every socket without an await per socket;
   only to sockets whose last figures differ; a socket still busy sending gets the newest figures
   when it is done, never a queue;
3. every ``PRESENCE_SAMPLE_SECONDS`` saves peak, totals and a timeline point (one process per stream
   wins the right to do so in the backend) and re-reads each stream's status from the database.

If the backend fails (Redis down), sockets get the last figures with ``"stale": true``; the next good
tick clears it. The ticker survives any error in a tick; if it ever dies, the next join restarts it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.db import database_sync_to_async
from django.conf import settings
from django.utils import timezone

from streams import selectors, services
from streams.frames import text_frame, write_frame
from streams.presence import Figures, Floors, PresenceUnavailable, StreamReport, aclose_backends, get_backend

logger = logging.getLogger(__name__)

MAX_PENDING_ARRIVALS = 200_000  # per stream, while the backend is unreachable


class Pushable(Protocol):
    async def push_text(self, text: str) -> None: ...


class Connection:
    """One open socket of this process. ``last_key`` is what it was last sent (without the time)."""

    __slots__ = (
        "consumer", "stream_id", "viewer_key", "host", "last_key", "busy", "pending", "raw", "__weakref__",
    )  # fmt: skip

    def __init__(self, consumer: Pushable, stream_id: int, viewer_key: str, host: bool, raw: Any = None) -> None:
        self.consumer = consumer
        self.raw = raw  # the server's socket protocol when frames may be written to it (streams.frames)
        self.stream_id = stream_id
        self.viewer_key = viewer_key
        self.host = host
        self.last_key: tuple | None = None
        self.busy = False
        self.pending: tuple[tuple, str] | None = None


@dataclass
class LocalStream:
    viewers: set[Connection] = field(default_factory=set)  # counted
    hosts: set[Connection] = field(default_factory=set)  # host dashboards, not counted
    frozen: set[Connection] = field(default_factory=set)  # viewers of an ended stream, not counted
    refs: Counter[str] = field(default_factory=Counter)  # viewer key -> open local sockets
    arrivals: list[str] = field(default_factory=list)
    departures: list[str] = field(default_factory=list)
    floors: Floors = field(default_factory=Floors)
    status: str = "scheduled"
    figures: Figures | None = None
    shown_peak: int = 0
    reported: bool = False  # has a non-zero count of ours been written to the backend
    watchers: set[int] = field(default_factory=set)  # signed-in viewers of the live stream, to save once
    pushed_at: float = -1e9  # monotonic time of the last push to this stream's sockets
    pushed_keys: tuple | None = None  # (viewer key, host key) of that push
    push_timer: asyncio.TimerHandle | None = None  # the trailing push, when one is due

    @property
    def ended(self) -> bool:
        return self.status == "ended"


def _ticks() -> float:
    return max(float(settings.PRESENCE_TICK_SECONDS), 0.05)


def _min_report() -> float:
    return max(float(settings.PRESENCE_MIN_REPORT_SECONDS), 0.0)


def _push_interval() -> float:
    interval = getattr(settings, "PRESENCE_PUSH_SECONDS", None)
    return _ticks() if interval is None else max(float(interval), 0.0)


class Hub:
    def __init__(self) -> None:
        self.process_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self.loop: asyncio.AbstractEventLoop | None = None
        self.task: asyncio.Task | None = None
        self.streams: dict[int, LocalStream] = {}
        self._last_refresh = 0.0
        self._last_touch = 0.0
        self._last_sample = 0.0
        self._delivery: set[asyncio.Task] = set()
        self._wake: asyncio.Event | None = None
        self.listener: asyncio.Task | None = None
        self.ticks = 0
        self.addresses: Counter[str] = Counter()  # open sockets per client address

    # --- called by consumers -------------------------------------------------------------------
    def _bind(self) -> None:
        loop = asyncio.get_running_loop()
        if self.loop is not loop:
            # A new event loop (tests run one per test): everything of the old loop is gone.
            self.loop = loop
            self.task = None
            self.listener = None
            self.streams = {}
            self._delivery = set()
            self._wake = asyncio.Event()
            self.addresses = Counter()

    def join(self, *, stream_id: int, consumer: Pushable, viewer_key: str, host: bool, status: str,
             floors: Floors, raw: Any = None) -> Connection:  # fmt: skip
        self._bind()
        local = self.streams.get(stream_id)
        if local is None:
            local = self.streams[stream_id] = LocalStream(floors=floors, status=status)
        conn = Connection(consumer, stream_id, viewer_key, host, raw)
        if host:
            local.hosts.add(conn)
        elif local.ended:
            local.frozen.add(conn)
        else:
            local.viewers.add(conn)
            if local.refs[viewer_key] == 0:
                if len(local.arrivals) < MAX_PENDING_ARRIVALS:
                    local.arrivals.append(viewer_key)
                if local.status == "live":
                    _note_watcher(local, viewer_key)
            local.refs[viewer_key] += 1
        if local.figures is not None:
            self._offer(conn, local)
        self.ensure_ticker()
        if not host:
            self.wake()  # report the new count now, not at the next tick
        return conn

    def leave(self, conn: Connection) -> None:
        local = self.streams.get(conn.stream_id)
        if local is None or self.loop is not asyncio.get_running_loop():
            return
        local.hosts.discard(conn)
        local.frozen.discard(conn)
        if conn in local.viewers:
            local.viewers.discard(conn)
            local.refs[conn.viewer_key] -= 1
            if local.refs[conn.viewer_key] <= 0:
                del local.refs[conn.viewer_key]
                local.departures.append(conn.viewer_key)
            self.wake()
        self.ensure_ticker()  # the leave must be counted even if the ticker had died

    def take_address(self, address: str) -> bool:
        """One more socket from this address, unless it already holds WS_MAX_SOCKETS_PER_ADDRESS in
        this process (0: no cap). Every True must be paired with one ``release_address``."""
        self._bind()
        cap = int(settings.WS_MAX_SOCKETS_PER_ADDRESS)
        if cap and self.addresses[address] >= cap:
            return False
        self.addresses[address] += 1
        return True

    def release_address(self, address: str) -> None:
        if self.loop is not asyncio.get_running_loop():
            return
        self.addresses[address] -= 1
        if self.addresses[address] <= 0:
            del self.addresses[address]

    def wake(self) -> None:
        """Have the ticker report and push now (leading edge) rather than at its next period."""
        if self._wake is not None:
            self._wake.set()

    def ensure_ticker(self) -> None:
        self._bind()
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run(), name="presence-ticker")
        if (self.listener is None or self.listener.done()) and get_backend().publishes:
            self.listener = asyncio.get_running_loop().create_task(self._listen(), name="presence-listener")

    async def _listen(self) -> None:
        """Other processes' changes, as they happen (Redis pub/sub; nothing to do in memory)."""
        await get_backend().listen(process_id=self.process_id, on_change=self._on_change)

    def _on_change(self, stream_id: int, status_changed: bool = False) -> None:
        if stream_id in self.streams:
            if status_changed:
                self._last_refresh = float("-inf")  # the next tick re-reads the statuses
            self.wake()

    def status_changed(self, stream_id: int) -> None:
        """A stream of this process started or ended (called from any thread, after the commit)."""
        loop = self.loop
        if loop is not None and loop.is_running():
            loop.call_soon_threadsafe(self._on_change, stream_id, True)

    async def stop(self) -> None:
        """Cancel the ticker and pending sends of this loop (tests, shutdown)."""
        for local in self.streams.values():
            if local.push_timer is not None:
                local.push_timer.cancel()
                local.push_timer = None
        tasks = [t for t in [self.task, self.listener, *self._delivery] if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            # Bounded: a task that swallowed its cancellation (a client library converting it into a
            # timeout, say) is left behind rather than hanging the shutdown.
            await asyncio.wait(tasks, timeout=5)
        self.task = None
        self.listener = None
        await aclose_backends()

    async def depart(self) -> None:
        """This process leaves the live audience (server shutdown, after its sockets are closed):
        one last tick reports none of its viewers, so every other process's totals drop on its next
        tick instead of when this process's liveness key expires."""
        if self.loop is not asyncio.get_running_loop():
            return  # no socket of this loop was ever counted
        if self.task is not None and not self.task.done():
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)
        for local in self.streams.values():
            local.departures.extend(local.refs)
            local.refs.clear()
            local.viewers.clear()
            local.arrivals.clear()
        try:
            await self.tick()
        except Exception:
            logger.exception("presence: the last tick before shutdown failed")
        await self.stop()

    # --- the ticker ----------------------------------------------------------------------------
    async def _run(self) -> None:
        """Tick every PRESENCE_TICK_SECONDS (liveness, crash safety), and at once when woken by a
        local join/leave or another process's change, at most once per PRESENCE_MIN_REPORT_SECONDS."""
        idle = 0
        wake = self._wake
        while True:
            started = time.monotonic()
            if wake is not None:
                wake.clear()
            try:
                await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("presence tick failed")
            self.ticks += 1
            if not self.streams:
                idle += 1
                if idle > 3:
                    return  # nothing to do; the next join starts a new ticker
            else:
                idle = 0
            await asyncio.sleep(max(_min_report() - (time.monotonic() - started), 0.0))
            remaining = _ticks() - (time.monotonic() - started)
            if remaining > 0:
                if wake is None:
                    await asyncio.sleep(remaining)
                else:
                    try:
                        async with asyncio.timeout(remaining):
                            await wake.wait()
                    except TimeoutError:
                        pass

    async def tick(self) -> None:
        now = time.monotonic()
        sample_due = now - self._last_sample >= float(settings.PRESENCE_SAMPLE_SECONDS)
        if sample_due or now - self._last_refresh >= min(float(settings.PRESENCE_SAMPLE_SECONDS), 2.0):
            await self._refresh_meta()
            self._last_refresh = now
        touch_all = now - self._last_touch >= float(settings.PRESENCE_VIEW_GRACE_SECONDS) / 3
        reports: dict[int, StreamReport] = {}
        for stream_id, local in self.streams.items():
            if local.ended and not local.reported:
                continue
            touches = list(local.refs) if touch_all else []
            touches += local.departures
            reports[stream_id] = StreamReport(
                count=0 if local.ended else len(local.viewers),
                floors=local.floors,
                arrivals=[] if local.ended else list(local.arrivals),
                touches=touches,
                want_sample=sample_due and not local.ended,
            )
        n_departures = {stream_id: len(local.departures) for stream_id, local in self.streams.items()}
        at = timezone.now()
        try:
            result = await get_backend().tick(process_id=self.process_id, reports=reports)
        except PresenceUnavailable:  # logged once per outage by streams.presence.presence_guard
            for local in self.streams.values():
                if local.figures is not None and not local.figures.stale:
                    local.figures = _stale(local.figures)
                self._push(local, at)
            return
        if touch_all:
            self._last_touch = now
        if sample_due:
            self._last_sample = now
        for stream_id, report in reports.items():
            local = self.streams.get(stream_id)
            if local is None:
                continue
            # Joins and leaves that happened while waiting for the backend stay for the next tick.
            del local.arrivals[: len(report.arrivals)]
            del local.departures[: n_departures.get(stream_id, 0)]
            local.reported = report.count > 0
            figures = result.figures.get(stream_id)
            if figures is not None and not local.ended:
                local.figures = figures
            self._push(local, at)
        for stream_id in result.sample_claims:
            local = self.streams.get(stream_id)
            if local is not None and local.figures is not None and not local.ended:
                await _record(stream_id=stream_id, figures=local.figures, at=at)
        for local in self.streams.values():
            if local.ended:
                self._push(local, at)
        await self._save_watchers()
        # Forget streams with no sockets left once their zero has been written.
        for stream_id in [sid for sid, lo in self.streams.items() if not (lo.viewers or lo.hosts or lo.frozen)]:
            local = self.streams[stream_id]
            if not local.reported and not local.arrivals and not local.departures and not local.refs:
                del self.streams[stream_id]

    async def _refresh_meta(self) -> None:
        if not self.streams:
            return
        meta = await _load_meta(list(self.streams))
        for stream_id, (status, floors) in meta.items():
            local = self.streams.get(stream_id)
            if local is None:
                continue
            local.floors = floors
            if status == "ended" and not local.ended:
                local.status = status
                local.figures = Figures(0, floors.peak, floors.total_views, floors.unique_viewers, {})
                # Ended: its viewers no longer count (they may stay on the page with the final figures).
                local.frozen |= local.viewers
                local.viewers.clear()
                local.refs.clear()
                local.arrivals.clear()
                local.departures.clear()
            if status == "live" and local.status != "live":
                for key in local.refs:
                    _note_watcher(local, key)
            local.status = status

    async def _save_watchers(self) -> None:
        for stream_id, local in list(self.streams.items()):
            if local.watchers:
                user_ids, local.watchers = local.watchers, set()
                await _record_watchers(stream_id=stream_id, user_ids=user_ids)

    # --- pushing -------------------------------------------------------------------------------
    def _push(self, local: LocalStream, at: Any) -> None:
        """Leading-edge throttle per stream: new figures go out now if the last push was at least
        PRESENCE_PUSH_SECONDS ago, else once that interval is over (with the newest figures then).
        Unchanged figures cost nothing (no walk over the sockets)."""
        if local.figures is None:
            return
        keys = (self._payload_key(local, host=False), self._payload_key(local, host=True))
        if keys == local.pushed_keys:
            return
        wait = local.pushed_at + _push_interval() - time.monotonic()
        if wait <= 0:
            self._push_now(local, at)
        elif local.push_timer is None:
            local.push_timer = asyncio.get_running_loop().call_later(wait, self._push_due, local)

    def _push_due(self, local: LocalStream) -> None:
        local.push_timer = None
        if local.figures is not None:
            self._push(local, timezone.now())

    def _push_now(self, local: LocalStream, at: Any) -> None:
        if local.push_timer is not None:
            local.push_timer.cancel()
            local.push_timer = None
        local.pushed_at = time.monotonic()
        viewer_text, viewer_key = self._payload(local, at, host=False)
        host_text, host_key = self._payload(local, at, host=True)
        local.pushed_keys = (viewer_key, host_key)
        viewer_frame = text_frame(viewer_text)  # encoded once for all of them (streams.frames)
        for group in (local.viewers, local.frozen):
            for conn in group:
                if conn.last_key != viewer_key:
                    if conn.raw is not None and not conn.busy and write_frame(conn.raw, viewer_frame):
                        conn.last_key = viewer_key
                    else:
                        self._deliver(conn, viewer_key, viewer_text)
        for conn in local.hosts:
            if conn.last_key != host_key:
                self._deliver(conn, host_key, host_text)

    def _offer(self, conn: Connection, local: LocalStream) -> None:
        text, key = self._payload(local, timezone.now(), host=conn.host)
        self._deliver(conn, key, text)

    def _payload_key(self, local: LocalStream, *, host: bool) -> tuple:
        figures = local.figures or Figures(0, 0, 0, 0, {})
        key: tuple = (
            "viewers",
            figures.concurrent,
            max(local.shown_peak, figures.peak),
            figures.total_views,
            figures.stale,
            local.status,
        )
        if host:
            key += (figures.unique_viewers, tuple(sorted(figures.platforms.items())))
        return key

    def _payload(self, local: LocalStream, at: Any, *, host: bool) -> tuple[str, tuple]:
        figures = local.figures or Figures(0, 0, 0, 0, {})
        # A client never sees the peak go down. It is the settled peak (streams.presence), so it is never
        # above the real audience; with several processes it may trail a rising concurrent by a tick.
        local.shown_peak = max(local.shown_peak, figures.peak)
        body: dict[str, Any] = {
            "type": "viewers",
            "concurrent": figures.concurrent,
            "peak": local.shown_peak,
            "total_views": figures.total_views,
            "stale": figures.stale,
            "status": local.status,
        }
        key: tuple = tuple(body.values())
        if host:
            body["unique_viewers"] = figures.unique_viewers
            body["platforms"] = figures.platforms
            key += (figures.unique_viewers, tuple(sorted(figures.platforms.items())))
        body["at"] = at.isoformat()
        return json.dumps(body, separators=(",", ":")), key

    def _deliver(self, conn: Connection, key: tuple, text: str) -> None:
        """Latest value, no queue: a socket busy sending keeps only the newest figures for later.

        The send is first run inline: on a healthy socket it completes without waiting (the server
        writes to the socket's buffer), so 10,000 pushes cost no task each. Only a send that has to
        wait (a slow client whose buffer is full) is finished in a task of its own, and the ticker
        moves on."""
        if conn.busy:
            conn.pending = (key, text)
            return
        coro = conn.consumer.push_text(text)
        try:
            waiting = coro.send(None)
        except StopIteration:
            conn.last_key = key
            return
        except Exception:  # the socket went away; leave() cleans up
            return
        conn.busy = True
        task = asyncio.get_running_loop().create_task(self._finish(conn, coro, waiting, key))
        self._delivery.add(task)
        task.add_done_callback(self._delivery.discard)

    async def _finish(self, conn: Connection, coro: Any, waiting: Any, key: tuple) -> None:
        """Resume a send that had to wait, then send the newest pending figures, if any."""
        try:
            while True:
                if waiting is None:
                    await asyncio.sleep(0)
                else:
                    await waiting
                try:
                    waiting = coro.send(None)
                except StopIteration:
                    break
            conn.last_key = key
            while conn.pending is not None:
                (key, text), conn.pending = conn.pending, None
                await conn.consumer.push_text(text)
                conn.last_key = key
        except asyncio.CancelledError:
            coro.close()
            raise
        except Exception:  # noqa: S110 - the socket went away; leave() cleans up
            coro.close()
        finally:
            conn.busy = False


def _stale(figures: Figures) -> Figures:
    return Figures(
        figures.concurrent, figures.peak, figures.total_views, figures.unique_viewers, figures.platforms, stale=True
    )


@database_sync_to_async
def _load_meta(stream_ids: list[int]) -> dict[int, tuple[str, Floors]]:
    return selectors.stream_presence_meta(stream_ids=stream_ids)


@database_sync_to_async
def _record(*, stream_id: int, figures: Figures, at: Any) -> None:
    services.stream_record_figures(stream_id=stream_id, figures=figures, at=at)


@database_sync_to_async
def _record_watchers(*, stream_id: int, user_ids: set[int]) -> None:
    services.stream_watchers_add(stream_id=stream_id, user_ids=user_ids)


def _note_watcher(local: LocalStream, viewer_key: str) -> None:
    """Signed-in viewers' keys are ``u<user id>`` (streams.viewer_ids); others are not saved."""
    if viewer_key.startswith("u") and viewer_key[1:].isdigit() and len(local.watchers) < MAX_PENDING_ARRIVALS:
        local.watchers.add(int(viewer_key[1:]))


_hub: Hub | None = None


def get_hub() -> Hub:
    global _hub
    if _hub is None:
        _hub = Hub()
    return _hub
