"""The parts of a page that are the same for everyone, rendered once and shared by every worker.

During a rush fans reload the home page and a session page far more often than they register, so
what those pages show everyone (the list, the session's facts, the seat figures) is rendered once
per ``PAGE_CACHE_SECONDS`` and per planning change, and kept in the default cache (Redis in
production, so all workers share one copy). What is personal (signed in? registered? which place on
the waitlist?) is small and rendered per request around it (``frontend.views``).

A fragment's key holds the planning version (``calendars.selectors.calendar_version``: bumped after
the commit of any change to a session, venue, city, series, organization or stream), the language
and what the page was asked for, so a moved or cancelled session shows at once; seat figures change
with every registration without a planning change and are at most ``PAGE_CACHE_SECONDS`` old (the
session page's own script then keeps them current, and a click's answer is always the truth).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.utils import translation

from calendars.selectors import VERSION_KEY, calendar_version


@dataclass
class Fragment:
    html: str
    built_at: float  # seconds since the epoch, for Last-Modified
    data: dict[str, Any] = field(default_factory=dict)  # what the personal part needs, e.g. the session

    @property
    def etag(self) -> str:
        return hashlib.sha256(self.html.encode()).hexdigest()[:32]


def fragment(
    name: str,
    key_parts: tuple,
    build: Callable[[], Fragment | None],
    *,
    also: tuple[str, ...] = (),
    local: bool = False,
) -> tuple[Fragment | None, dict[str, Any]]:
    """The cached fragment for ``key_parts``, built (and stored) on a miss, and the cache entries
    named in ``also`` read in the same round trip. ``build`` may return None for what must not be
    shared (a draft only its organizers see): nothing is stored then.

    One round trip to the cache when nothing changed: the planning version and the fragment made
    under the version this process saw last are read together (``get_many``). With ``local`` (and
    nothing in ``also``), none while this process's own copy is at most half of
    ``PAGE_CACHE_SECONDS`` old: a planning change then reaches the page that much later, as it
    reaches visitors' pages (``visitor_pages``)."""
    timeout = settings.PAGE_CACHE_SECONDS
    if timeout <= 0:
        return build(), (cache.get_many(list(also)) if also else {})
    if not local or also:
        return _shared_fragment(name, key_parts, build, also=also, timeout=timeout)
    local_key = (name, repr(key_parts), translation.get_language())  # key_parts may hold lists
    kept = local_fragments.get(local_key)
    if kept is not None:
        return kept, {}
    shared, found = _shared_fragment(name, key_parts, build, also=also, timeout=timeout)
    if shared is not None:
        local_fragments.put(local_key, shared)
    return shared, found


def _shared_fragment(
    name: str, key_parts: tuple, build: Callable[[], Fragment | None], *, also: tuple[str, ...], timeout: int
) -> tuple[Fragment | None, dict[str, Any]]:
    last_key = _fragment_key(name, key_parts, _last_version[0])
    found = cache.get_many([VERSION_KEY, last_key, *also])
    version = found.pop(VERSION_KEY, None)
    hit = found.pop(last_key, None)
    if version is not None and version == _last_version[0] and isinstance(hit, Fragment):
        return hit, found
    # Version before build, so what is stored under a key is never older than the version in it.
    version = version if version is not None else calendar_version()
    _last_version[0] = version
    key = _fragment_key(name, key_parts, version)
    hit = cache.get(key)
    if isinstance(hit, Fragment):
        return hit, found
    built = build()
    if built is not None:
        cache.set(key, built, timeout=timeout)
    return built, found


_last_version: list[int | None] = [None]  # the planning version this process saw last


def _fragment_key(name: str, key_parts: tuple, version: int | None) -> str:
    digest = hashlib.sha256(repr((key_parts, version, translation.get_language())).encode()).hexdigest()
    return f"page:{name}:{digest}"


def new_fragment(html: str, **data: Any) -> Fragment:
    return Fragment(html=html, built_at=time.time(), data=data)


# Put where a signed-in fan's CSRF token goes in a page kept in ``rendered_pages``: each request
# gets a freshly masked token (Django masks it anew every time, so compressed pages give nothing
# away to a BREACH-style attack).
CSRF_PLACEHOLDER = "csrf-placeholder-7e1d0c52"
# Likewise the signed-in person's name and their bell's unread count, so that one rendering of a
# page's layout serves every fan whose own part of it is the same (frontend.views._page).
USERNAME_PLACEHOLDER = "username-placeholder-5b0e9f31"
BELL_MARKER = "<!--bell-placeholder-c41d-->"


# Stand-ins for a fan's registration number and waitlist position in their session page's panel
# and their home page's card tags (``frontend.views``): numbers no page shows otherwise.
PLACE_ID_STAND_IN = 990_000_000_001
POSITION_STAND_IN = 990_000_000_002


class _PlaceholderUser:
    """What the layout reads of ``user`` when it is rendered for many signed-in fans at once."""

    is_authenticated = True
    is_anonymous = False
    username = USERNAME_PLACEHOLDER

    def get_username(self) -> str:
        return USERNAME_PLACEHOLDER


PLACEHOLDER_USER = _PlaceholderUser()


class RenderedPages:
    """Pages (or their layouts) this process rendered, by what they were rendered from (template,
    URL, fragment, language, and for a filled page the visitor's own part), for two seconds: a
    thousand fans reloading the same session page cost one template rendering, not a thousand. What
    else the layout shows of a signed-in person (their workspace links, say) may be that much older;
    their own place on the page never is, it is part of the filled page's key."""

    def __init__(self, size: int = 2048, seconds: float = 2.0, share_of_page_cache: float | None = None) -> None:
        self.size, self.seconds, self.share = size, seconds, share_of_page_cache
        self._pages: OrderedDict[tuple, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, inputs: tuple) -> Any:
        with self._lock:
            hit = self._pages.get(inputs)
            if hit is None:
                return None
            if time.monotonic() - hit[0] > self.lifetime():
                del self._pages[inputs]
                return None
            self._pages.move_to_end(inputs)
            return hit[1]

    def clear(self) -> None:
        with self._lock:
            self._pages.clear()

    def lifetime(self) -> float:
        if self.share is not None:
            return settings.PAGE_CACHE_SECONDS * self.share
        return self.seconds

    def put(self, inputs: tuple, body: Any) -> None:
        if settings.PAGE_CACHE_SECONDS <= 0:
            return
        with self._lock:
            self._pages[inputs] = (time.monotonic(), body)
            self._pages.move_to_end(inputs)
            while len(self._pages) > self.size:
                self._pages.popitem(last=False)


rendered_pages = RenderedPages()
# The same pages filled with a visitor's own part (their place, the seat figures read with it), by
# the layout's inputs and that part: the fans who hold no place share one.
filled_pages = RenderedPages()

# A visitor's page (signed out, nothing of their own on it) as last sent by this process, by URL and
# language, for half of PAGE_CACHE_SECONDS: a visitor's reload costs no round trip at all. A planning
# change reaches other processes' visitors that much later; seat figures are then at most
# 1.5 x PAGE_CACHE_SECONDS old, and the page's script brings them up to date within a second.
visitor_pages = RenderedPages(share_of_page_cache=0.5)
# The shared fragments this process read last, for the same half of PAGE_CACHE_SECONDS (``fragment``).
local_fragments = RenderedPages(share_of_page_cache=0.5)


def forget_rendered_pages() -> None:
    """Drops what this process keeps of rendered pages (tests, between databases)."""
    rendered_pages.clear()
    filled_pages.clear()
    visitor_pages.clear()
    local_fragments.clear()
    _last_version[0] = None
