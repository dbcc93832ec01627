"""A fan's calendar app and browser asking for the feed URL at the same moment, with real threads
and connections on PostgreSQL: one feed, one token, for everyone."""

import threading

import pytest
from django.db import connection

from calendars import services
from calendars.models import CalendarFeed
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
TIMEOUT = 60  # seconds; every thread is bounded


def run_concurrently(jobs):
    """One thread (with its own connection) per job, released together; results in job order."""
    barrier = threading.Barrier(len(jobs))
    results: list = [None] * len(jobs)

    def worker(index, job):
        try:
            barrier.wait(timeout=TIMEOUT)
            results[index] = job()
        except Exception as exc:  # noqa: BLE001 - reported through results
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i, job), daemon=True) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=TIMEOUT)
    assert not any(thread.is_alive() for thread in threads), "a thread did not finish in time"
    return results


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (real concurrent transactions)")


def test_simultaneous_first_requests_get_one_feed_and_the_same_url():
    fan = UserFactory()
    results = run_concurrently([lambda: services.calendar_feed_get_or_create(user=fan).token for _ in range(8)])
    assert not [r for r in results if isinstance(r, Exception)], results
    assert len(set(results)) == 1
    assert CalendarFeed.objects.filter(user=fan).count() == 1


def test_simultaneous_revokes_leave_one_working_token():
    fan = UserFactory()
    old = services.calendar_feed_get_or_create(user=fan).token
    results = run_concurrently([lambda: services.calendar_feed_revoke(user=fan).token for _ in range(6)])
    assert not [r for r in results if isinstance(r, Exception)], results
    feed = CalendarFeed.objects.get(user=fan)
    assert feed.token != old
    assert feed.token in results
    assert len(set(results)) == 6  # each revoke issued its own token, the last one stands
