"""ASGI entry point: HTTP and websockets (the live audience)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import re_path  # noqa: E402

from project.log_filters import install as redact_query_strings_in_logs  # noqa: E402
from project.ws_auth import TokenOrSessionAuthMiddleware  # noqa: E402
from project.ws_security import AllowedHostsBrowserOriginValidator, websocket_not_found  # noqa: E402
from streams.lifespan import lifespan  # noqa: E402
from streams.routing import websocket_urlpatterns  # noqa: E402

redact_query_strings_in_logs()

# Every websocket path that matches no route ends in websocket_not_found (an HTTP 404), not an error.
websocket_router = URLRouter([*websocket_urlpatterns, re_path(r"", websocket_not_found)])

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsBrowserOriginValidator(TokenOrSessionAuthMiddleware(websocket_router)),
        "lifespan": lifespan,
    }
)
