"""The saved peak is never above the real audience: a killed process's overlap never reaches it.

Processes are simulated by ticking the configured presence backend (Redis when REDIS_URL is set, else
the in-memory one) under different process ids; a "killed" process simply stops ticking. Its count
stays in the concurrent figure until its liveness expires, but a sum it was part of becomes the peak
only once it has reported again."""

import time

import pytest
from asgiref.sync import async_to_sync

from streams.presence import Floors, MemoryPresence, StreamReport, aclose_backends, get_backend

STREAM = 7


@pytest.fixture(autouse=True)
def _short_liveness(settings):
    settings.PRESENCE_LIVENESS_SECONDS = 0.6


def tick(process: str, count: int, stream_id: int = STREAM):
    async def call():
        try:
            result = await get_backend().tick(process_id=process, reports={stream_id: StreamReport(count=count)})
        finally:
            await aclose_backends()  # each call runs in a loop of its own
        return result.figures[stream_id]

    return async_to_sync(call)()


def snapshot(stream_id: int = STREAM):
    return get_backend().snapshot(stream_id=stream_id, floors=Floors())


def test_one_process_sets_the_peak_at_once():
    assert (tick("a", 5).concurrent, tick("a", 5).peak) == (5, 5)
    assert tick("a", 9).peak == 9
    assert tick("a", 2).peak == 9


def test_a_sum_over_two_processes_settles_when_the_other_reports_again():
    tick("a", 50)
    growing = tick("b", 50)
    assert (growing.concurrent, growing.peak) == (100, 50)  # b's sum includes a's earlier report
    assert tick("a", 50).peak == 100  # a was alive after it: settled
    assert snapshot().peak == 100


def test_a_killed_process_overlap_never_reaches_the_peak(settings):
    """200 viewers on a; a is SIGKILLed; they reconnect to b while a's count is still counted."""
    # Long enough that b's three reports fall inside a's liveness on a loaded CI machine (each tick
    # opens a Redis connection in a loop of its own): 0.6 s was not, and a had expired already.
    settings.PRESENCE_LIVENESS_SECONDS = 3
    tick("a", 200)
    tick("b", 0)
    assert snapshot().peak == 200
    # a is killed here: it never ticks again. Its viewers come back on b.
    overlap = [tick("b", count) for count in (80, 200, 200)]
    assert max(f.concurrent for f in overlap) == 400  # shown briefly, until a's liveness expires
    assert all(f.peak == 200 for f in overlap)
    time.sleep(3.1)  # a's liveness expires
    after = tick("b", 200)
    assert (after.concurrent, after.peak) == (200, 200)
    assert snapshot().peak == 200


def test_a_process_that_leaves_cleanly_settles_the_sums_it_was_part_of():
    tick("a", 30)
    assert tick("b", 10).peak == 30
    assert tick("a", 0).peak == 40  # its last report (none left) still proves it was there


def test_other_platforms_counts_settle_at_once():
    get_backend().report_external(stream_id=STREAM, platform="douyin", concurrent=120)
    assert snapshot().peak == 120
    assert tick("a", 3).peak == 123


def test_streams_are_settled_independently():
    tick("a", 10, stream_id=1)
    tick("b", 10, stream_id=2)
    assert (tick("a", 10, stream_id=1).peak, tick("b", 10, stream_id=2).peak) == (10, 10)


def test_many_unsettled_sums_are_bounded(settings):
    settings.PRESENCE_LIVENESS_SECONDS = 60  # a stays "alive" but silent throughout

    async def flood():
        backend = get_backend()
        await backend.tick(process_id="a", reports={STREAM: StreamReport(count=1)})
        for count in range(2, 300):  # a never reports again: none of these settles
            await backend.tick(process_id="b", reports={STREAM: StreamReport(count=count)})
        await aclose_backends()

    async_to_sync(flood)()
    assert snapshot().peak == 1
    backend = get_backend()
    if isinstance(backend, MemoryPresence):
        kept = len(backend._candidates[STREAM])
    else:
        import redis

        client = redis.Redis.from_url(backend.url)
        kept = client.llen(f"{backend.prefix}:pc:{STREAM}")
        client.close()
    assert kept == 64
