"""Sessions as iCalendar (RFC 5545) built with ``icalendar``, and the texts shared with the
"add to calendar" links. Pure functions of already-fetched objects: no query happens here, so a
feed's query count is decided by the selector that fetched its sessions.

Choices the RFC leaves open:
- No METHOD property: these are published calendars, not scheduling messages. Without METHOD,
  DTSTAMP is "when the information was last revised in the calendar store" (RFC 5545 3.8.7.2), so
  it is the row's ``updated_at`` and an unchanged session serializes to the same bytes (stable ETags).
- UID ``session-<id>@<SITE_URL host>``: stable for the life of the session, across every feed.
- Times carry the venue's TZID with a VTIMEZONE generated from the IANA database for the years
  the calendar spans; a calendar app therefore shows the local time of the venue.
- Cancelled sessions stay in every feed with STATUS:CANCELLED, "Cancelled: " before the summary
  (for apps that ignore STATUS), TRANSP:TRANSPARENT and no reminder.
"""

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass
from email.utils import parseaddr
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from icalendar import Alarm, Calendar, Event, Timezone, vCalAddress, vDuration
from icalendar.prop.conference import Conference

from events.models import Session
from project import content
from project.site import site_url, uid_host

PRODID = "-//Aperture//Photography Night School Calendars//EN"
# How often subscribed calendar apps should poll (RFC 7986 REFRESH-INTERVAL and the older
# X-PUBLISHED-TTL that Outlook and Apple read).
REFRESH_INTERVAL = dt.timedelta(hours=1)

STATUS_CONFIRMED = "CONFIRMED"
STATUS_TENTATIVE = "TENTATIVE"
STATUS_CANCELLED = "CANCELLED"


def reminder_minutes() -> int:
    return int(getattr(settings, "CALENDAR_REMINDER_MINUTES", 60))


@lru_cache(maxsize=8)
def _hostname(url: str) -> str:
    return urlsplit(url).hostname or "aperture.local"


@lru_cache(maxsize=8)
def _address(value: str) -> str:
    return parseaddr(value)[1]


def site_host() -> str:
    return uid_host()


def session_uid(session: Session) -> str:
    return f"session-{session.pk}@{site_host()}"


def session_page_url(session: Session) -> str:
    """The fan-facing page of a session (served by the frontend app)."""
    return f"{site_url()}/sessions/{session.pk}/"


def organizer_email() -> str:
    return _address(settings.DEFAULT_FROM_EMAIL) or f"noreply@{site_host()}"


@lru_cache(maxsize=256)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        # Time zones are validated on input; a bad one in old data must not break a whole feed.
        return zoneinfo.ZoneInfo("UTC")


def session_zone(session: Session) -> zoneinfo.ZoneInfo:
    """The venue's time zone (a session without a venue, e.g. an online livestream, has its own)."""
    venue = session.venue
    return _zone(venue.timezone if venue is not None and venue.timezone else session.timezone or "UTC")


def playback_url(session: Session) -> str:
    """The livestream's playback URL, from the ``stream`` reverse one-to-one (fetched with
    ``select_related("stream")`` by the feed selectors)."""
    try:
        stream = session.stream
    except Session.stream.RelatedObjectDoesNotExist:
        return ""
    return (stream.playback_url or "") if stream is not None else ""


def local_time(value: dt.datetime, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """``value`` on the venue's wall clock, or in UTC when that wall-clock time is the second
    occurrence of an hour that happens twice (end of DST): RFC 5545 3.3.5 reads an ambiguous
    local time as its first occurrence, which would put the session an hour early."""
    local = value.astimezone(zone)
    if local.fold and local.replace(fold=0).utcoffset() != local.utcoffset():
        return value.astimezone(dt.UTC)
    return local


@dataclass(frozen=True)
class EventTexts:
    summary: str
    description: str
    location: str
    page_url: str
    playback_url: str


def event_texts(session: Session, *, description_limit: int | None = None) -> EventTexts:
    """The human texts of a session, shared by the .ics and the add-to-calendar links, in the
    active language (organizer-written texts in their translation where one exists)."""
    cancelled = session.status == Session.Status.CANCELLED
    page = session_page_url(session)
    playback = playback_url(session)
    title = content.translated(session, "title")
    summary = _("Cancelled: %(title)s") % {"title": title} if cancelled else title
    body = content.translated(session, "description").strip()
    if description_limit is not None and len(body) > description_limit:
        body = body[: description_limit - 1].rstrip() + "…"
    parts = []
    if cancelled:
        reason = (session.cancel_reason or "").strip()
        parts.append(f"{_('This session is cancelled.')} {reason}".strip())
    if body:
        parts.append(body)
    if playback:
        parts.append(_("Livestream: %(url)s") % {"url": playback})
    parts.append(_("Session page: %(url)s") % {"url": page})
    venue = session.venue
    city = session.city
    if venue is not None:
        location = ", ".join(p for p in (content.translated(venue, "name"), venue.address) if p)
    elif playback:
        location = _("Online livestream: %(url)s") % {"url": playback}
    else:
        location = content.translated(city, "name")
    if city.local_name and city.local_name not in location:
        location = f"{location} ({city.local_name})"
    return EventTexts(
        summary=summary, description="\n\n".join(parts), location=location, page_url=page, playback_url=playback
    )


def session_event(session: Session, *, status: str, stamp: dt.datetime) -> Event:
    """One VEVENT. ``status`` is decided by the caller (a waitlisted fan sees TENTATIVE);
    ``stamp`` is when this entry was last revised (see module docstring)."""
    zone = session_zone(session)
    texts = event_texts(session)
    cancelled = status == STATUS_CANCELLED
    event = Event()
    event.add("uid", session_uid(session))
    event.add("dtstamp", stamp.astimezone(dt.UTC))
    event.add("dtstart", local_time(session.starts_at, zone))
    event.add("dtend", local_time(session.ends_at, zone))
    event.add("summary", texts.summary)
    event.add("description", texts.description)
    event.add("location", texts.location)
    place = session.venue if session.venue is not None else session.city
    event.add("geo", (place.latitude, place.longitude))
    event.add("url", texts.page_url)
    organizer = vCalAddress(f"mailto:{organizer_email()}")
    organizer.params["CN"] = session.series.organization.name
    event.add("organizer", organizer)
    event.add("sequence", session.sequence)
    event.add("created", session.created_at.astimezone(dt.UTC))
    event.add("last-modified", session.updated_at.astimezone(dt.UTC))
    event.add("status", status)
    event.add("transp", "TRANSPARENT" if cancelled else "OPAQUE")
    event.add("class", "PUBLIC")
    event.add("categories", [str(Session.Kind(session.kind).label)])
    if texts.playback_url:
        event.add("conference", Conference(texts.playback_url, feature=["VIDEO"], label=str(_("Livestream"))).to_uri())
    if not cancelled:
        minutes = reminder_minutes()
        alarm = Alarm()
        alarm.add("uid", f"session-{session.pk}-reminder@{site_host()}")
        alarm.add("action", "DISPLAY")
        alarm.add(
            "description",
            ngettext("%(title)s starts in %(count)s minute", "%(title)s starts in %(count)s minutes", minutes)
            % {"title": content.translated(session, "title"), "count": minutes},
        )
        alarm.add("trigger", dt.timedelta(minutes=-minutes))
        event.add_component(alarm)
    return event


@lru_cache(maxsize=128)
def vtimezone(tzid: str, first_year: int, last_year: int) -> Timezone:
    """The VTIMEZONE of an IANA zone for whole years (cached: generating it costs more than
    serializing dozens of events). The component is shared between calendars, never mutated."""
    return Timezone.from_tzid(tzid, first_date=dt.date(first_year, 1, 1), last_date=dt.date(last_year + 1, 1, 1))


@dataclass(frozen=True)
class FeedEntry:
    session: Session
    status: str
    stamp: dt.datetime


def calendar_bytes(entries: Iterable[FeedEntry], *, name: str, description: str = "") -> bytes:
    """A whole VCALENDAR: VTIMEZONEs first (RFC 5545 3.6.5), then the events, CRLF, folded."""
    calendar = Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", name)
    calendar.add("x-wr-calname", name)
    if description:
        calendar.add("description", description)
        calendar.add("x-wr-caldesc", description)
    calendar.add("refresh-interval", REFRESH_INTERVAL, parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(REFRESH_INTERVAL))
    years: dict[str, tuple[int, int]] = {}
    events = []
    for entry in entries:
        session = entry.session
        event = session_event(session, status=entry.status, stamp=entry.stamp)
        zone_key = session_zone(session).key
        if zone_key != "UTC":
            # A year either side, within what a date can hold: a session in year 1 or 9999 is
            # accepted by the API, and its zone's rules then cover what a date can say.
            start = max(dt.MINYEAR, session.starts_at.astimezone(dt.UTC).year - 1)
            end = min(dt.MAXYEAR - 1, session.ends_at.astimezone(dt.UTC).year + 1)  # vtimezone adds one
            low, high = years.get(zone_key, (start, end))
            years[zone_key] = (min(low, start), max(high, end))
        events.append(event)
    for zone_key in sorted(years):
        calendar.add_component(vtimezone(zone_key, *years[zone_key]))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()


def public_status(session: Session) -> str:
    return STATUS_CANCELLED if session.status == Session.Status.CANCELLED else STATUS_CONFIRMED
