"""WebSocket routes of the live audience (see streams.consumers)."""

from django.urls import path

from streams.consumers import HostConsumer, ViewerConsumer

websocket_urlpatterns: list = [
    path("ws/streams/<int:stream_id>/", ViewerConsumer.as_asgi()),
    path("ws/streams/<int:stream_id>/host/", HostConsumer.as_asgi()),
]
