import uuid

import pytest

from streams import consumers, hub, presence


@pytest.fixture(autouse=True)
def _fresh_presence(settings):
    """Each test gets its own presence state (and its own Redis key prefix when REDIS_URL is set)."""
    settings.PRESENCE_REDIS_PREFIX = f"aperture-test:{uuid.uuid4().hex}"
    presence.reset_backend()
    hub._hub = None
    consumers._public_cache.clear()
    yield
    presence.reset_backend()
    hub._hub = None


def free_port() -> int:
    """A port nothing listens on (bind to port 0, read it back, close)."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def dead_port() -> int:
    return free_port()
