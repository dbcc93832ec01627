"""A fan's calendar app and browser asking for the feed URL at the same moment, with real threads
and connections on PostgreSQL: one feed, one token, for everyone."""

import pytest
from django.db import connection

from calendars import services
from calendars.models import CalendarFeed
from tests.concurrency import run_concurrently
from tests.factories import UserFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


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
