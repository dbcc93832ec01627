"""Live audience presence: one small interface, two backends.

Why not one Channels group per stream: a ``group_send`` to a big group costs one message per member
per change (O(N^2) for N joins) and channels_redis drops messages when a channel is full. Instead each
ASGI process keeps its own viewers in memory (``streams.hub``) and once per tick calls
``PresenceBackend.tick`` with its per-stream counts. The backend stores them next to a liveness key
of that process that expires, and returns the totals **recomputed as a sum over live processes**:
there is no running INCR/DECR of the concurrent count, so a killed process's viewers vanish when its
liveness key expires and nobody has to decrement for them, and the count can never go negative.

- ``RedisPresence`` (settings.REDIS_URL set): one Lua script per tick and process, so one round trip;
  unique viewers in a HyperLogLog; peak only ever raised; total views counted on first arrivals.
- ``MemoryPresence`` (the embedded default, one process): the same rules on dicts under a lock.

Definitions (as the large platforms use them):
- concurrent: connections open now (three tabs are three) plus fresh counts of external platforms;
- unique viewers: distinct viewer keys (user id, else the signed browser id, else the address:
  streams.viewer_ids) over the stream;
- total views: arrivals of a viewer not already present and not seen within the grace period
  (``PRESENCE_VIEW_GRACE_SECONDS``): a reload is not a new view. A viewer's grace key is refreshed
  while connected and again when the viewer's last socket leaves;
- peak: highest *settled* concurrent value, never decreases. A sum of the processes' counts at time T
  is a peak candidate until every process in it has reported again after T: a process killed after
  its last report never does, so the moments when its stale count and its viewers' new sockets on
  another process were both counted (a killed worker's overlap) never reach the peak. With one
  process a candidate settles at once; with several, within one tick of the slowest.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from project.redis_guard import guard_for, redis_errors

logger = logging.getLogger(__name__)

WEB = "web"  # our own websocket viewers in the per-platform breakdown


class PresenceUnavailable(Exception):
    """The shared store (Redis) cannot be reached; callers show the last figures marked stale."""


@dataclass(frozen=True)
class Floors:
    """Figures already saved in the database: live figures never go below them (restarts)."""

    peak: int = 0
    total_views: int = 0
    unique_viewers: int = 0


@dataclass(frozen=True)
class Figures:
    concurrent: int
    peak: int
    total_views: int
    unique_viewers: int
    platforms: dict[str, int] = field(default_factory=dict)
    stale: bool = False

    @property
    def external(self) -> int:
        return sum(count for name, count in self.platforms.items() if name != WEB)


@dataclass
class StreamReport:
    """What one process tells the backend about one stream in one tick."""

    count: int  # this process's viewer sockets on the stream now
    floors: Floors = field(default_factory=Floors)
    arrivals: list[str] = field(default_factory=list)  # viewer keys whose first local socket opened
    touches: list[str] = field(default_factory=list)  # viewer keys to keep within grace (present or just left)
    want_sample: bool = False  # ask for the right to save a timeline point now


@dataclass
class TickResult:
    figures: dict[int, Figures]
    sample_claims: set[int]


class PresenceBackend(ABC):
    @abstractmethod
    async def tick(self, *, process_id: str, reports: dict[int, StreamReport]) -> TickResult:
        """Store this process's counts and liveness, record arrivals, return current totals."""

    @abstractmethod
    def snapshot(self, *, stream_id: int, floors: Floors) -> Figures:
        """Current totals of one stream, read-only and synchronous (REST views)."""

    @abstractmethod
    def report_external(self, *, stream_id: int, platform: str, concurrent: int) -> None:
        """Another platform's concurrent count, valid for PRESENCE_EXTERNAL_TIMEOUT_SECONDS."""

    #: Whether ``listen`` hears other processes' changes (else there are no other processes).
    publishes = False

    async def listen(self, *, process_id: str, on_change: Callable[[int, bool], None]) -> None:  # noqa: B027
        """Call ``on_change(stream_id, status_changed)`` whenever another process's count of a stream
        changes, or a stream started or ended, until cancelled. The periodic tick stays the safety net
        for any change missed here."""

    def announce_status(self, *, stream_id: int) -> None:  # noqa: B027 - nothing to tell in one process
        """A stream started or ended: every process re-reads its status now (not within 2 s)."""

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        pass


_MAX_CANDIDATES = 64  # unsettled peak candidates kept per stream


def _liveness() -> float:
    return float(settings.PRESENCE_LIVENESS_SECONDS)


def _grace() -> float:
    return float(settings.PRESENCE_VIEW_GRACE_SECONDS)


def _sample_interval() -> float:
    return float(settings.PRESENCE_SAMPLE_SECONDS)


def _external_timeout() -> float:
    return float(settings.PRESENCE_EXTERNAL_TIMEOUT_SECONDS)


# --- In-memory backend ------------------------------------------------------------------------


class MemoryPresence(PresenceBackend):
    """The embedded default: one process, no Redis. Exact sets instead of a HyperLogLog."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._procs: dict[str, float] = {}  # process id -> liveness expiry (monotonic)
        self._counts: dict[int, dict[str, int]] = {}  # stream -> process -> count
        self._reported: dict[int, dict[str, float]] = {}  # stream -> process -> its last report (monotonic)
        # (at, concurrent, processes in the sum, the process whose report made it)
        self._candidates: dict[int, list[tuple[float, int, frozenset[str], str]]] = {}
        self._grace: dict[tuple[int, str], float] = {}  # (stream, viewer) -> grace expiry
        self._views: dict[int, int] = {}
        self._peaks: dict[int, int] = {}
        self._uniques: dict[int, set[str]] = {}
        self._external: dict[int, dict[str, tuple[int, float]]] = {}
        self._claims: dict[int, float] = {}
        self._last_sweep = 0.0

    def _figures(self, stream_id: int, floors: Floors, now: float, reporter: str = "") -> Figures:
        web = 0
        contributors: set[str] = set()
        per_proc = self._counts.get(stream_id, {})
        for pid in list(per_proc):
            if self._procs.get(pid, 0.0) > now:
                web += per_proc[pid]
                contributors.add(pid)
            else:
                del per_proc[pid]
        reported = self._reported.setdefault(stream_id, {})
        for pid in [pid for pid in reported if self._procs.get(pid, 0.0) <= now]:
            del reported[pid]
        platforms = {WEB: web}
        ext = self._external.get(stream_id, {})
        for name in list(ext):
            count, expires = ext[name]
            if expires > now:
                platforms[name] = count
            else:
                del ext[name]
        concurrent = sum(platforms.values())
        peak = max(self._peaks.get(stream_id, 0), floors.peak)
        candidates = self._candidates.setdefault(stream_id, [])
        if (reporter or not contributors) and concurrent > peak:  # (a read with no process in it settles)
            candidates.append((now, concurrent, frozenset(contributors), reporter))
            del candidates[:-_MAX_CANDIDATES]
        pending = []
        for at, value, pids, creator in candidates:
            if all(pid in (reporter, creator) or reported.get(pid, -1.0) > at for pid in pids):
                peak = max(peak, value)  # every process in the sum was alive after it: settled
            elif all(pid in reported for pid in pids):
                pending.append((at, value, pids, creator))
            # else a process in it has died since: its count there may have been counted twice
        self._candidates[stream_id] = pending
        self._peaks[stream_id] = peak
        views = max(self._views.get(stream_id, 0), floors.total_views)
        self._views[stream_id] = views
        unique = max(len(self._uniques.get(stream_id, ())), floors.unique_viewers)
        return Figures(concurrent, peak, views, unique, platforms)

    async def tick(self, *, process_id: str, reports: dict[int, StreamReport]) -> TickResult:
        now = time.monotonic()
        grace = _grace()
        figures: dict[int, Figures] = {}
        claims: set[int] = set()
        with self._lock:
            self._procs[process_id] = now + _liveness()
            for stream_id, report in reports.items():
                per_proc = self._counts.setdefault(stream_id, {})
                if report.count > 0:
                    per_proc[process_id] = report.count
                else:
                    per_proc.pop(process_id, None)
                self._reported.setdefault(stream_id, {})[process_id] = now
                self._views[stream_id] = max(self._views.get(stream_id, 0), report.floors.total_views)
                uniques = self._uniques.setdefault(stream_id, set())
                for viewer in report.arrivals:
                    key = (stream_id, viewer)
                    if self._grace.get(key, 0.0) <= now:
                        self._views[stream_id] += 1
                    self._grace[key] = now + grace
                    uniques.add(viewer)
                for viewer in report.touches:
                    self._grace[(stream_id, viewer)] = now + grace
                figures[stream_id] = self._figures(stream_id, report.floors, now, reporter=process_id)
                if report.want_sample and self._claims.get(stream_id, 0.0) <= now:
                    self._claims[stream_id] = now + _sample_interval() * 0.9
                    claims.add(stream_id)
            if now - self._last_sweep > grace:
                self._last_sweep = now
                self._grace = {key: exp for key, exp in self._grace.items() if exp > now}
        return TickResult(figures, claims)

    def snapshot(self, *, stream_id: int, floors: Floors) -> Figures:
        with self._lock:
            return self._figures(stream_id, floors, time.monotonic())

    def report_external(self, *, stream_id: int, platform: str, concurrent: int) -> None:
        with self._lock:
            expires = time.monotonic() + _external_timeout()
            self._external.setdefault(stream_id, {})[platform] = (concurrent, expires)


# --- Redis backend ----------------------------------------------------------------------------

# One round trip per process and tick. Keys (P = prefix, s = stream id):
#   P:alive:<pid>   liveness of a process, PX = liveness
#   P:c:<s>         hash pid -> that process's viewer count (fields of dead processes are dropped)
#   P:x:<s>         hash platform -> "count:expires_ms" (external platforms)
#   P:pk:<s>        peak (only raised)        P:tv:<s>  total views        P:hll:<s>  unique viewers
#   P:v:<s>:<vkey>  grace key of a viewer     P:smp:<s> who saves the next timeline point
#   P:rt:<s>        hash pid -> when that process last reported (Redis TIME, ms)
#   P:pc:<s>        list of unsettled peak candidates "at|concurrent|creator|pid pid ..." (module doc)
# and publishes "<s>|<pid>" on channel P:chg when a process's count of s changed or new views came in:
# the other processes tick at once on hearing it (streams.hub), so a change crosses processes in
# one round trip instead of waiting for their next tick.
_TICK_LUA = """
local P = ARGV[1]
local pid = ARGV[2]
local L = tonumber(ARGV[3])
local G = tonumber(ARGV[4])
local S = tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if pid ~= '' then redis.call('SET', P .. ':alive:' .. pid, '1', 'PX', L) end
local n = tonumber(ARGV[6])
local i = 7
local out = {}
for _ = 1, n do
  local s = ARGV[i]
  local count = tonumber(ARGV[i + 1])
  local pfloor = tonumber(ARGV[i + 2])
  local vfloor = tonumber(ARGV[i + 3])
  local want_sample = ARGV[i + 4]
  i = i + 5
  local ck = P .. ':c:' .. s
  local changed = false
  if pid ~= '' then
    changed = tonumber(redis.call('HGET', ck, pid) or '0') ~= count
    if count > 0 then redis.call('HSET', ck, pid, count) else redis.call('HDEL', ck, pid) end
    redis.call('PEXPIRE', ck, 86400000)
  end
  local tvk = P .. ':tv:' .. s
  local views = tonumber(redis.call('GET', tvk) or '0')
  if views < vfloor then views = vfloor; redis.call('SET', tvk, views, 'PX', 604800000) end
  local hll = P .. ':hll:' .. s
  local na = tonumber(ARGV[i])
  i = i + 1
  local fresh = 0
  for j = 0, na - 1 do
    if redis.call('SET', P .. ':v:' .. s .. ':' .. ARGV[i + j], '1', 'NX', 'PX', G) then fresh = fresh + 1 end
  end
  local j = 0
  while j < na do
    local last = math.min(j + 500, na) - 1
    redis.call('PFADD', hll, unpack(ARGV, i + j, i + last))
    j = last + 1
  end
  if na > 0 then redis.call('PEXPIRE', hll, 604800000) end
  i = i + na
  if fresh > 0 then views = redis.call('INCRBY', tvk, fresh); redis.call('PEXPIRE', tvk, 604800000) end
  if pid ~= '' and (changed or fresh > 0) then redis.call('PUBLISH', P .. ':chg', s .. '|' .. pid) end
  local nt = tonumber(ARGV[i])
  i = i + 1
  for k = 0, nt - 1 do
    redis.call('SET', P .. ':v:' .. s .. ':' .. ARGV[i + k], '1', 'PX', G)
  end
  i = i + nt
  local rtk = P .. ':rt:' .. s
  if pid ~= '' then
    redis.call('HSET', rtk, pid, now)
    redis.call('PEXPIRE', rtk, 86400000)
  end
  local web = 0
  local contrib = {}
  local h = redis.call('HGETALL', ck)
  for k = 1, #h, 2 do
    if redis.call('EXISTS', P .. ':alive:' .. h[k]) == 1 then
      web = web + tonumber(h[k + 1])
      table.insert(contrib, h[k])
    else
      redis.call('HDEL', ck, h[k])
    end
  end
  local reported = {}
  local r = redis.call('HGETALL', rtk)
  for k = 1, #r, 2 do
    if redis.call('EXISTS', P .. ':alive:' .. r[k]) == 1 then
      reported[r[k]] = tonumber(r[k + 1])
    else
      redis.call('HDEL', rtk, r[k])
    end
  end
  local xk = P .. ':x:' .. s
  local ext = {}
  local xsum = 0
  local x = redis.call('HGETALL', xk)
  for k = 1, #x, 2 do
    local c, e = string.match(x[k + 1], '^(%d+):(%d+)$')
    if c and tonumber(e) > now then
      xsum = xsum + tonumber(c)
      table.insert(ext, x[k])
      table.insert(ext, tonumber(c))
    else
      redis.call('HDEL', xk, x[k])
    end
  end
  local pk = P .. ':pk:' .. s
  local peak = math.max(tonumber(redis.call('GET', pk) or '0'), pfloor)
  local pck = P .. ':pc:' .. s
  if (pid ~= '' or #contrib == 0) and web + xsum > peak then
    redis.call('RPUSH', pck, now .. '|' .. (web + xsum) .. '|' .. pid .. '|' .. table.concat(contrib, ' '))
    redis.call('LTRIM', pck, -64, -1)
    redis.call('PEXPIRE', pck, 86400000)
  end
  local cands = redis.call('LRANGE', pck, 0, -1)
  if #cands > 0 then
    local pending = {}
    for _, cand in ipairs(cands) do
      local at, value, creator, pids = string.match(cand, '^(%d+)|(%d+)|([^|]*)|(.*)$')
      if at == nil then  -- written before the creator was kept
        creator = ''
        at, value, pids = string.match(cand, '^(%d+)|(%d+)|(.*)$')
      end
      at = tonumber(at)
      local settled, alive = true, true
      for q in string.gmatch(pids, '%S+') do
        local seen = reported[q]
        if seen == nil then alive = false; settled = false; break end
        -- "Reported again": strictly after the candidate (a report in the same millisecond may have
        -- come before it). The process whose report made the candidate, and the one reporting now
        -- (scripts run one at a time, so after the candidate), count as current.
        if q ~= pid and q ~= creator and seen <= at then settled = false end
      end
      if settled then
        if tonumber(value) > peak then peak = tonumber(value) end
      elseif alive then
        table.insert(pending, cand)
      end
    end
    if #pending ~= #cands then
      redis.call('DEL', pck)
      if #pending > 0 then
        redis.call('RPUSH', pck, unpack(pending))
        redis.call('PEXPIRE', pck, 86400000)
      end
    end
  end
  redis.call('SET', pk, peak, 'PX', 604800000)
  local uniq = redis.call('PFCOUNT', hll)
  local claimed = 0
  if want_sample == '1' and redis.call('SET', P .. ':smp:' .. s, pid, 'NX', 'PX', S) then claimed = 1 end
  table.insert(out, tonumber(s))
  table.insert(out, web)
  table.insert(out, peak)
  table.insert(out, views)
  table.insert(out, uniq)
  table.insert(out, claimed)
  table.insert(out, #ext / 2)
  for k = 1, #ext do table.insert(out, ext[k]) end
end
return out
"""

_EXTERNAL_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2] .. ':' .. (now + tonumber(ARGV[3])))
redis.call('PEXPIRE', KEYS[1], 86400000)
return 1
"""


def _tick_args(prefix: str, process_id: str, reports: dict[int, StreamReport]) -> list[Any]:
    args: list[Any] = [
        prefix,
        process_id,
        max(int(_liveness() * 1000), 1),
        max(int(_grace() * 1000), 1),
        max(int(_sample_interval() * 900), 1),
        len(reports),
    ]
    for stream_id, report in reports.items():
        args += [
            stream_id,
            report.count,
            report.floors.peak,
            report.floors.total_views,
            "1" if report.want_sample else "0",
        ]
        args.append(len(report.arrivals))
        args += report.arrivals
        args.append(len(report.touches))
        args += report.touches
    return args


def _parse_tick(raw: list[Any], floors: dict[int, Floors]) -> TickResult:
    figures: dict[int, Figures] = {}
    claims: set[int] = set()
    i = 0
    while i < len(raw):
        stream_id, web, peak, views, uniq, claimed, n_ext = (int(v) for v in raw[i : i + 7])
        i += 7
        platforms = {WEB: web}
        for k in range(n_ext):
            name = raw[i + 2 * k]
            platforms[name.decode() if isinstance(name, bytes) else str(name)] = int(raw[i + 2 * k + 1])
        i += 2 * n_ext
        floor = floors.get(stream_id, Floors())
        concurrent = sum(platforms.values())
        figures[stream_id] = Figures(
            concurrent=concurrent,
            peak=max(peak, floor.peak),  # settled only: may trail concurrent by a tick (module doc)
            total_views=max(views, floor.total_views),
            unique_viewers=max(uniq, floor.unique_viewers),
            platforms=platforms,
        )
        if claimed:
            claims.add(stream_id)
    return TickResult(figures, claims)


class RedisPresence(PresenceBackend):
    """Shared by every process on the same Redis. Timeouts are short: an unreachable Redis makes
    ``tick``/``snapshot`` raise PresenceUnavailable quickly and the figures are shown as stale."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self._sync: Any = None
        self._async: Any = None
        self._async_loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()
        # Logs an outage once, counts the calls that failed, and spares the REST views a timeout per
        # request while Redis is away (project.redis_guard).
        self.guard = guard_for("live audience", url)

    publishes = True

    def _timeout(self) -> float:
        return max(min(float(settings.PRESENCE_TICK_SECONDS), 2.0), 0.5)

    def announce_status(self, *, stream_id: int) -> None:
        if not self.guard.may_try():
            return
        try:
            self._sync_client().publish(f"{self.prefix}:chg", f"{stream_id}|status")
        except redis_errors() as exc:
            self.guard.failed(exc)  # the processes re-read statuses every 2 s anyway

    async def listen(self, *, process_id: str, on_change: Callable[[int, bool], None]) -> None:
        """Subscribe to P:chg; reconnect with backoff and jitter while Redis is away (logged once)."""
        import redis.asyncio as aioredis

        channel = f"{self.prefix}:chg"
        delay = 0.5
        failing = False
        while True:
            client = aioredis.Redis.from_url(self.url, socket_connect_timeout=self._timeout(), health_check_interval=15)
            pubsub = client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(channel)
                if failing:
                    logger.warning("presence: listening to other processes' changes again")
                failing, delay = False, 0.5
                while True:
                    message = await pubsub.get_message(timeout=10.0)
                    if message is None:
                        continue
                    data = message.get("data")
                    text = data.decode() if isinstance(data, bytes) else str(data)
                    stream_id, _, sender = text.partition("|")
                    if sender != process_id and stream_id.isdigit():
                        on_change(int(stream_id), sender == "status")
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # Redis away: the periodic ticks carry the changes meanwhile
                task = asyncio.current_task()
                if task is not None and task.cancelling():  # a cancellation the client turned into an error
                    raise asyncio.CancelledError from exc
                if not failing:
                    logger.warning("presence: not hearing other processes' changes (%s); retrying", exc)
                failing = True
            finally:
                try:
                    await pubsub.aclose()
                    await client.aclose()
                except Exception:  # noqa: S110 - closing a client whose server is gone
                    pass
            await asyncio.sleep(delay + random.random() * delay)  # noqa: S311 - jitter, not security
            delay = min(delay * 2, 10.0)

    def _sync_client(self) -> Any:
        import redis

        with self._lock:
            if self._sync is None:
                timeout = max(float(settings.REDIS_TIMEOUT_SECONDS), 0.05)  # a request waits on it
                self._sync = redis.Redis.from_url(self.url, socket_timeout=timeout, socket_connect_timeout=timeout)
            return self._sync

    def _async_client(self) -> Any:
        import redis.asyncio as aioredis

        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            self._async = aioredis.Redis.from_url(
                self.url, socket_timeout=self._timeout(), socket_connect_timeout=self._timeout()
            )
            self._async_loop = loop
        return self._async

    async def tick(self, *, process_id: str, reports: dict[int, StreamReport]) -> TickResult:
        # The ticker tries every tick (one call a second per process), so figures recover at once.
        client = self._async_client()
        args = _tick_args(self.prefix, process_id, reports)
        try:
            async with asyncio.timeout(self._timeout() * 2):
                raw = await client.eval(_TICK_LUA, 0, *args)
        except (*redis_errors(), TimeoutError) as exc:
            self.guard.failed(exc)
            raise PresenceUnavailable(str(exc)) from exc
        self.guard.succeeded()
        return _parse_tick(raw, {sid: r.floors for sid, r in reports.items()})

    def _sync_eval(self, script: str, numkeys: int, *args: Any) -> Any:
        """A call from a request: none at all while Redis is being left alone after a failure."""
        if not self.guard.may_try():
            raise PresenceUnavailable("left alone after a failure")
        try:
            result = self._sync_client().eval(script, numkeys, *args)
        except redis_errors() as exc:
            self.guard.failed(exc)
            raise PresenceUnavailable(str(exc)) from exc
        self.guard.succeeded()
        return result

    def snapshot(self, *, stream_id: int, floors: Floors) -> Figures:
        report = StreamReport(count=-1, floors=floors)
        raw = self._sync_eval(_TICK_LUA, 0, *_tick_args(self.prefix, "", {stream_id: report}))
        return _parse_tick(raw, {stream_id: floors}).figures[stream_id]

    def report_external(self, *, stream_id: int, platform: str, concurrent: int) -> None:
        ttl_ms = max(int(_external_timeout() * 1000), 1)
        self._sync_eval(_EXTERNAL_LUA, 1, f"{self.prefix}:x:{stream_id}", platform, concurrent, ttl_ms)

    async def aclose(self) -> None:
        if self._async is not None:
            try:
                await self._async.aclose()
            except Exception:  # noqa: S110 - closing a client on a dead loop or server
                pass
            self._async = None


# --- The process's backend ---------------------------------------------------------------------

_backend: PresenceBackend | None = None
_backend_key: tuple[str, str] | None = None
_backend_lock = threading.Lock()
_retired: list[PresenceBackend] = []  # replaced after a settings change; closed by aclose_backends()


def get_backend() -> PresenceBackend:
    """Redis when settings.REDIS_URL is set, else the in-memory backend; one per process (and per
    configuration, so that tests that change settings get a fresh one)."""
    global _backend, _backend_key
    key = (settings.REDIS_URL or "", settings.PRESENCE_REDIS_PREFIX)
    with _backend_lock:
        if _backend is None or _backend_key != key:
            if _backend is not None:
                _retired.append(_backend)
            _backend = RedisPresence(key[0], key[1]) if key[0] else MemoryPresence()
            _backend_key = key
        return _backend


def reset_backend() -> None:
    """Forget the process's backend (tests)."""
    global _backend, _backend_key
    with _backend_lock:
        if _backend is not None:
            _retired.append(_backend)
        _backend = None
        _backend_key = None


async def aclose_backends() -> None:
    """Close the async clients of the current and replaced backends in the running loop."""
    with _backend_lock:
        backends = [*_retired, *([_backend] if _backend is not None else [])]
        _retired.clear()
    for backend in backends:
        await backend.aclose()
