"""ASGI entry point: HTTP and websockets (the live audience)."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from project.ws_auth import TokenOrSessionAuthMiddleware  # noqa: E402
from project.ws_security import AllowedHostsBrowserOriginValidator  # noqa: E402
from streams.lifespan import lifespan  # noqa: E402
from streams.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": django_asgi_app,
        "websocket": AllowedHostsBrowserOriginValidator(TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))),
        "lifespan": lifespan,
    }
)
