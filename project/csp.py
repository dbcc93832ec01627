"""Content Security Policy: a few lines of middleware (Django 5.2 has none of its own; 6.0 will).

The pages load scripts and styles from this site only, with no inline script or style; the live
figures' websocket goes to this site. The API's interactive docs (/api/docs/, /api/redoc/, developer
tools from drf-spectacular whose pages carry inline code) get a looser policy of their own."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse

DOCS_PATHS = ("/api/docs/", "/api/redoc/")


def _websocket_origin() -> str:
    """'self' covers same-origin websockets in current browsers; older ones need the ws(s) origin."""
    if not settings.SITE_URL:
        return ""  # 'self' covers the origin each request came to
    site = urlsplit(settings.SITE_URL)
    return f"{'wss' if site.scheme == 'https' else 'ws'}://{site.netloc}"


def site_policy() -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {_websocket_origin()}".rstrip(),
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
        ]
    )


def docs_policy() -> str:
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self' 'unsafe-inline'",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "worker-src 'self' blob:",
            "object-src 'none'",
            "base-uri 'self'",
            "frame-ancestors 'none'",
        ]
    )


def header_name() -> str:
    """A view that sets this header itself (e.g. the stream page opening its player's origins) keeps it."""
    return "Content-Security-Policy-Report-Only" if settings.CSP_REPORT_ONLY else "Content-Security-Policy"


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.header = header_name()
        self.site = site_policy()
        self.docs = docs_policy()

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if self.header not in response:
            response[self.header] = self.docs if request.path.startswith(DOCS_PATHS) else self.site
        return response
