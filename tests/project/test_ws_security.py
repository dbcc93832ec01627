import pytest
from asgiref.sync import async_to_sync
from channels.generic.websocket import WebsocketConsumer
from channels.testing import WebsocketCommunicator

from project.ws_security import AllowedHostsBrowserOriginValidator

# Sync consumers close stale database connections around each message (channels.db).
pytestmark = pytest.mark.django_db


class Echo(WebsocketConsumer):
    def connect(self):
        self.accept()


async def _connects(headers) -> bool:
    communicator = WebsocketCommunicator(AllowedHostsBrowserOriginValidator(Echo.as_asgi()), "/ws/x/", headers)
    connected, _ = await communicator.connect()
    await communicator.disconnect()
    return connected


def connects(headers) -> bool:
    return async_to_sync(_connects)(headers)


def test_a_page_of_another_site_cannot_open_a_socket():
    assert not connects([(b"origin", b"https://evil.example.com")])


def test_our_own_pages_can_open_a_socket():
    assert connects([(b"origin", b"http://127.0.0.1:8000")])


def test_native_clients_without_an_origin_can_open_a_socket():
    assert connects([])
