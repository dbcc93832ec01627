"""The hub's push rules: latest value, no queue; a slow socket never holds up the others; a
leading-edge throttle per stream."""

import asyncio
import json
import time

from django.utils import timezone

from streams.hub import Connection, Hub, LocalStream
from streams.presence import Figures


class FastSocket:
    def __init__(self) -> None:
        self.sent: list[int] = []

    async def push_text(self, text: str) -> None:
        self.sent.append(json.loads(text)["concurrent"])


class SlowSocket(FastSocket):
    """A client that stopped reading: its sends wait until ``gate`` opens."""

    def __init__(self) -> None:
        super().__init__()
        self.gate = asyncio.Event()

    async def push_text(self, text: str) -> None:
        await self.gate.wait()
        await super().push_text(text)


def test_a_slow_socket_gets_the_latest_figures_and_never_a_queue():
    async def scenario() -> tuple[list[int], list[int], int]:
        hub = Hub()
        hub._bind()
        local = hub.streams[1] = LocalStream(status="live")
        fast, slow = FastSocket(), SlowSocket()
        for socket in (fast, slow):
            local.viewers.add(Connection(socket, 1, f"v{id(socket)}", False))
        for concurrent in (10, 11, 12, 13):
            local.figures = Figures(concurrent, concurrent, concurrent, concurrent, {"web": concurrent})
            hub._push_now(local, timezone.now())  # returns at once even though one socket is stuck
        pending_tasks = len(hub._delivery)
        slow.gate.set()
        await asyncio.sleep(0.05)
        return fast.sent, slow.sent, pending_tasks

    fast_sent, slow_sent, pending_tasks = asyncio.run(scenario())
    assert fast_sent == [10, 11, 12, 13]
    assert slow_sent == [10, 13]  # the one in flight, then only the newest
    assert pending_tasks == 1


def test_a_change_after_a_quiet_interval_goes_out_at_once_and_changes_within_it_at_its_end(settings):
    settings.PRESENCE_PUSH_SECONDS = 2.0

    async def scenario() -> tuple[list[tuple[int, float]], float]:
        hub = Hub()
        hub._bind()
        local = hub.streams[1] = LocalStream(status="live")
        received: list[tuple[int, float]] = []

        class Clock(FastSocket):
            async def push_text(self, text: str) -> None:
                received.append((json.loads(text)["concurrent"], time.monotonic()))

        local.viewers.add(Connection(Clock(), 1, "v1", False))
        started = time.monotonic()
        for concurrent in (1, 2, 3):  # one change now (leading edge), two within the interval
            local.figures = Figures(concurrent, concurrent, concurrent, concurrent, {"web": concurrent})
            hub._push(local, timezone.now())
        hub._push(local, timezone.now())  # unchanged: nothing more is scheduled or sent
        while len(received) < 2 and time.monotonic() - started < 10:
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)  # nothing else comes
        return received, started

    received, started = asyncio.run(scenario())
    assert [value for value, _ in received] == [1, 3]  # the first at once, then only the newest
    assert received[0][1] - started < 1.0  # not waiting for the interval (generous on a busy machine)
    assert received[1][1] - received[0][1] >= 2.0 - 0.01  # never two pushes within the interval
