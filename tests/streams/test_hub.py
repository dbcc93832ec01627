"""The hub's push rule: latest value, no queue; a slow socket never holds up the others."""

import asyncio
import json

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
            hub._push(local, timezone.now())  # returns at once even though one socket is stuck
        pending_tasks = len(hub._delivery)
        slow.gate.set()
        await asyncio.sleep(0.05)
        return fast.sent, slow.sent, pending_tasks

    fast_sent, slow_sent, pending_tasks = asyncio.run(scenario())
    assert fast_sent == [10, 11, 12, 13]
    assert slow_sent == [10, 13]  # the one in flight, then only the newest
    assert pending_tasks == 1
