"""WebSocket routes of the live audience (see streams.consumers)."""

websocket_urlpatterns: list = []
