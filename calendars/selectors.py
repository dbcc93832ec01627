"""Reads: the three calendars (a session, a series, a fan's private feed), their cache, and the
"add to calendar" links.

Caching: a built feed is stored under a key made of
  - a fingerprint of its sessions read with one aggregate query (count, latest ``updated_at``,
    sum of ``sequence``; for a fan also their registrations' latest ``updated_at`` and how many
    are waitlisted), so that any saved change to a session (time, place, status, text) or to the
    fan's registrations gives a new key;
  - a global version stamp, bumped after commit by the signals in ``calendars.signals`` when
    something a feed shows but the fingerprint cannot see changes (a venue's address, a city, a
    series or organization name, a stream's playback URL, a session saved without touching
    ``updated_at``).
Reading order matters: version, then fingerprint, then rows, so what is stored under a key is
never older than the key says. Old keys are never read again and expire.

Since a key names its content, each process also keeps the last few feeds it served in memory
under the same key: a hit then costs one small cache read (the version) and the fingerprint query,
without moving the whole feed out of Redis.
"""

import datetime as dt
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from urllib.parse import quote, urlencode

from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from django.db.models import Count, Max, Q, QuerySet, Sum
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _

from accounts.models import User
from calendars import ics
from calendars.models import CalendarFeed
from events import selectors as event_selectors
from events.models import City, Series, Session
from project import content
from project.errors import ApplicationError
from project.i18n import recipient_language
from project.site import site_url
from registrations.models import Registration
from registrations.selectors import registrations_of_fan

CACHE_PREFIX = "calendars:v1"
VERSION_KEY = f"{CACHE_PREFIX}:version"
FEED_TTL_SECONDS = 24 * 3600
LOCAL_FEEDS = 32  # feeds kept in each process's memory (about 1 KB per session each)

_local: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
_local_lock = threading.Lock()


def _local_get(key: str) -> tuple[bytes, str] | None:
    with _local_lock:
        value = _local.get(key)
        if value is not None:
            _local.move_to_end(key)
        return value


def _local_put(key: str, value: tuple[bytes, str]) -> None:
    with _local_lock:
        _local[key] = value
        _local.move_to_end(key)
        while len(_local) > LOCAL_FEEDS:
            _local.popitem(last=False)


def local_feeds_clear() -> None:
    with _local_lock:
        _local.clear()


@dataclass(frozen=True)
class RenderedCalendar:
    body: bytes
    etag: str
    last_modified: dt.datetime
    filename: str


def calendar_version() -> int:
    """Nanoseconds since the epoch of the last change the fingerprints cannot see. A cache that
    lost it (restart, eviction) starts a new one, which only costs one rebuild per feed."""
    version = cache.get(VERSION_KEY)
    if version is None:
        cache.add(VERSION_KEY, time.time_ns(), timeout=None)
        version = cache.get(VERSION_KEY) or time.time_ns()
    return int(version)


def calendar_version_bump() -> None:
    cache.set(VERSION_KEY, time.time_ns(), timeout=None)


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _last_modified(latest: dt.datetime | None, version: int) -> dt.datetime:
    changed = dt.datetime.fromtimestamp(version / 1e9, tz=dt.UTC)
    return max(latest, changed) if latest is not None else changed


def _cached(key_parts: tuple, build, *, latest: dt.datetime | None, version: int, filename: str) -> RenderedCalendar:
    # A feed is built in the active language (its texts and organizer translations): one copy each.
    # The site's address is part of the text (session links): a feed read on another address differs.
    digest = hashlib.sha256(repr((key_parts, version, translation.get_language(), site_url())).encode()).hexdigest()
    key = f"{CACHE_PREFIX}:feed:{digest}"
    hit = _local_get(key)
    if hit is None:
        hit = cache.get(key)
        if hit is not None:
            _local_put(key, hit)
    if hit is not None:
        body, etag = hit
        return RenderedCalendar(body, etag, _last_modified(latest, version), filename)
    body = build()
    etag = _etag(body)
    cache.set(key, (body, etag), timeout=FEED_TTL_SECONDS)
    _local_put(key, (body, etag))
    return RenderedCalendar(body, etag, _last_modified(latest, version), filename)


# --- A single session --------------------------------------------------------------------------


def session_calendar(*, user: User | AnonymousUser, session_id: int) -> RenderedCalendar:
    """One VEVENT, for whoever may see the session (drafts only for its organizers and hosts).
    Not cached: one event costs less to build than a cache round trip saves."""
    version = calendar_version()
    session = event_selectors.session_list(user=user).select_related("series__organization").get(id=session_id)
    body = ics.calendar_bytes(
        [ics.FeedEntry(session, ics.public_status(session), session.updated_at)],
        name=content.translated(session, "title"),
    )
    return RenderedCalendar(body, _etag(body), _last_modified(session.updated_at, version), f"session-{session.pk}.ics")


# --- A series' public feed ---------------------------------------------------------------------


def _series_fingerprint(sessions: QuerySet[Session]) -> tuple:
    figures = sessions.order_by().aggregate(n=Count("id"), latest=Max("updated_at"), seq=Sum("sequence"))
    return figures["n"], figures["latest"], figures["seq"]


def series_calendar(*, series_id: int, city_id: int | None = None) -> RenderedCalendar:
    """Published and cancelled sessions of a series (optionally in one city). A cached feed costs
    one query (the fingerprint); a rebuild three more at most (series, city, the rows with all
    they show), whatever the number of sessions."""
    version = calendar_version()
    sessions = event_selectors.calendar_sessions_of_series(series_id=series_id, city_id=city_id)
    count, latest, seq = _series_fingerprint(sessions)
    if count == 0:
        # Nothing to show: tell an unknown series (404) or city (400) from an empty feed.
        Series.objects.only("id").get(id=series_id)
        if city_id is not None and not City.objects.filter(id=city_id).exists():
            raise ApplicationError(
                _("Unknown city."), fields={"city": [_("No city with id %(city_id)s.") % {"city_id": city_id}]}
            )

    def build() -> bytes:
        series = Series.objects.get(id=series_id)
        name = content.translated(series, "title")
        if city_id is not None:
            name = f"{name} · {content.city_label(City.objects.get(id=city_id))}"
        entries = [ics.FeedEntry(s, ics.public_status(s), s.updated_at) for s in sessions]
        return ics.calendar_bytes(entries, name=name, description=content.translated(series, "description"))

    filename = f"series-{series_id}" + (f"-city-{city_id}" if city_id is not None else "") + ".ics"
    return _cached(
        ("series", series_id, city_id, count, latest, seq), build, latest=latest, version=version, filename=filename
    )


# --- A fan's private feed ----------------------------------------------------------------------


def calendar_feed_for_token(*, token: str) -> CalendarFeed:
    """The live subscription with this token (a revoked token no longer exists: DoesNotExist)."""
    return CalendarFeed.objects.select_related("user").get(token=token, user__is_active=True)


def _fan_registrations(*, fan: User) -> QuerySet[Registration]:
    """Confirmed and waitlisted registrations of published sessions, plus every registration of a
    cancelled session (whatever the session's cancellation did to the seat), so that the fan's
    calendar shows the cancellation instead of the event silently disappearing."""
    return (
        registrations_of_fan(fan=fan, statuses=list(Registration.Status.values))
        .filter(
            Q(session__status=Session.Status.CANCELLED)
            | Q(
                session__status=Session.Status.PUBLISHED,
                status__in=[Registration.Status.CONFIRMED, Registration.Status.WAITLISTED],
            )
        )
        .select_related("session__series__organization", "session__stream")
    )


def fan_status(registration: Registration) -> str:
    session = registration.session
    if session.status == Session.Status.CANCELLED:
        return ics.STATUS_CANCELLED
    if registration.status == Registration.Status.WAITLISTED:
        return ics.STATUS_TENTATIVE
    return ics.STATUS_CONFIRMED


def fan_calendar(*, fan: User) -> RenderedCalendar:
    """The fan's private feed, in the fan's own language (it is read by a calendar app, not by a
    browser that could say which language it wants)."""
    with translation.override(recipient_language(fan)):
        return _fan_calendar(fan=fan)


def _fan_calendar(*, fan: User) -> RenderedCalendar:
    version = calendar_version()
    registrations = _fan_registrations(fan=fan)
    figures = registrations.order_by().aggregate(
        n=Count("id"),
        waitlisted=Count("id", filter=Q(status=Registration.Status.WAITLISTED)),
        reg_latest=Max("updated_at"),
        latest=Max("session__updated_at"),
        seq=Sum("session__sequence"),
    )
    latest = max((t for t in (figures["latest"], figures["reg_latest"]) if t is not None), default=None)

    def build() -> bytes:
        entries = [
            ics.FeedEntry(r.session, fan_status(r), max(r.session.updated_at, r.updated_at)) for r in registrations
        ]
        return ics.calendar_bytes(
            entries, name=_("My night school sessions (%(username)s)") % {"username": fan.username}
        )

    key = ("fan", fan.pk, figures["n"], figures["waitlisted"], figures["reg_latest"], figures["latest"], figures["seq"])
    return _cached(key, build, latest=latest, version=version, filename="my-sessions.ics")


def calendar_feed_url(feed: CalendarFeed) -> str:
    return site_url() + reverse("calendar-feed-ics", kwargs={"token": feed.token})


# --- "Add to calendar" links -------------------------------------------------------------------

GOOGLE_TEMPLATE_URL = "https://calendar.google.com/calendar/render"
OUTLOOK_COMPOSE_URL = "https://outlook.live.com/calendar/0/deeplink/compose"
# Calendar web apps take the whole event in the URL; a long description is cut to keep it well
# under the lengths browsers and servers accept.
LINK_DESCRIPTION_LIMIT = 300
# Left readable in query values ("dates=...Z/...Z", URLs in the details); both services accept them.
URL_SAFE = "/:"


def calendar_links(session: Session) -> dict[str, str]:
    """Google Calendar and Outlook on the web "add event" links and the .ics download, with the
    times in UTC (``Z``) so that every calendar places the session at the same instant."""
    texts = ics.event_texts(session, description_limit=LINK_DESCRIPTION_LIMIT)
    start = session.starts_at.astimezone(dt.UTC)
    end = session.ends_at.astimezone(dt.UTC)
    google = {
        "action": "TEMPLATE",
        "text": texts.summary,
        "dates": f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}",
        "details": texts.description,
        "location": texts.location,
        "ctz": ics.session_zone(session).key,
    }
    outlook = {
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": texts.summary,
        "startdt": f"{start:%Y-%m-%dT%H:%M:%SZ}",
        "enddt": f"{end:%Y-%m-%dT%H:%M:%SZ}",
        "body": texts.description,
        "location": texts.location,
    }
    return {
        "google": f"{GOOGLE_TEMPLATE_URL}?{urlencode(google, quote_via=quote, safe=URL_SAFE)}",
        "outlook": f"{OUTLOOK_COMPOSE_URL}?{urlencode(outlook, quote_via=quote, safe=URL_SAFE)}",
        "ics": site_url() + reverse("session-calendar-ics", kwargs={"pk": session.pk}),
    }
