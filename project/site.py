"""The site's own address for absolute links (calendar feeds and files, emails, add-to-calendar).

``SITE_URL`` when the operator sets it (production: the public https address). Unset, links follow
the address the request came to (``make demo PORT=8101`` hands out links on port 8101): a middleware
notes each request's origin (scheme and host, the host checked against ALLOWED_HOSTS by Django).
Where no request is being served (a job worker sending emails), the last origin a web process saw,
shared through the cache, else ``SITE_URL_FALLBACK`` (``python -m project.serve`` sets it to the
address it serves), else ``http://127.0.0.1:8000``.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse

DEFAULT = "http://127.0.0.1:8000"
LAST_ORIGIN_KEY = "site:last-origin"
LAST_ORIGIN_SECONDS = 30 * 24 * 3600

_request_origin: ContextVar[str | None] = ContextVar("aperture_request_origin", default=None)
_last_noted: dict[str, str] = {}  # this process's last origin written to the cache


def site_url() -> str:
    """``scheme://host[:port]`` without a trailing slash."""
    if settings.SITE_URL:
        return settings.SITE_URL
    origin = _request_origin.get()
    if origin:
        return origin
    return cache.get(LAST_ORIGIN_KEY) or settings.SITE_URL_FALLBACK or DEFAULT


def uid_host() -> str:
    """The domain in calendar UIDs: it must never change with the address a request came to."""
    return urlsplit(settings.SITE_URL or settings.SITE_URL_FALLBACK or DEFAULT).hostname or "localhost"


class SiteOriginMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if settings.SITE_URL:
            return self.get_response(request)
        origin = f"{request.scheme}://{request.get_host()}"
        token = _request_origin.set(origin)
        try:
            if _last_noted.get("origin") != origin:
                cache.set(LAST_ORIGIN_KEY, origin, LAST_ORIGIN_SECONDS)
                _last_noted["origin"] = origin
            return self.get_response(request)
        finally:
            _request_origin.reset(token)
