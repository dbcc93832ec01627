import pytest

from calendars.selectors import local_feeds_clear


@pytest.fixture(autouse=True)
def _empty_local_feed_memo():
    """Each process keeps recent feeds in memory (keyed like the shared cache); start each test empty."""
    local_feeds_clear()
    yield
    local_feeds_clear()
