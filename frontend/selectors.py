"""Reads for the pages, composed from the other apps' selectors. Nothing here writes, and nothing
here decides a business rule: the REST API behind the buttons stays the authority (a page only
says what it expects the API to answer)."""

import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from accounts.models import User
from calendars.selectors import calendar_links
from events import selectors as event_selectors
from events.models import Session
from registrations import selectors as registration_selectors
from registrations.models import Registration, checkin_code_grouped
from streams import selectors as stream_selectors
from streams.models import Stream

# A month of a nationwide program is ~130 sessions; the home page never materializes more than this.
HOME_MAX_SESSIONS = 500
EARTH_RADIUS_KM = 6371.0088
# Offsets of real time zones lie within UTC-12..UTC+14: a local calendar day is inside this UTC window.
_WIDEST_OFFSETS = (dt.timedelta(hours=14), dt.timedelta(hours=12))


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def local_start(session: Session) -> dt.datetime:
    return session.starts_at.astimezone(zoneinfo.ZoneInfo(session.timezone))


@dataclass(frozen=True)
class HomeQuery:
    city: int | None = None
    kind: str | None = None
    q: str | None = None
    # Local calendar days at the session's own venue, both inclusive.
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    near: tuple[float, float] | None = None


@dataclass
class SessionCard:
    session: Session
    distance_km: float | None = None
    registration: Registration | None = None


def home_sessions(*, user: User | AnonymousUser, query: HomeQuery, now: dt.datetime | None = None) -> list[SessionCard]:
    """Upcoming published sessions for the home page, filtered and, with ``near``, sorted by the
    distance from that point to the session's city (then by start).

    Dates are local days of each session's venue ("the 12th in Luoyang"); SQL narrows to the widest
    UTC window of those days and the exact day is checked per session. A constant number of queries.
    """
    now = now or timezone.now()
    starts_after = now
    starts_before = None
    if query.date_from is not None:
        day_start = dt.datetime.combine(query.date_from, dt.time.min, tzinfo=dt.UTC) - _WIDEST_OFFSETS[0]
        starts_after = max(now, day_start)
    if query.date_to is not None:
        starts_before = (
            dt.datetime.combine(query.date_to + dt.timedelta(days=1), dt.time.min, tzinfo=dt.UTC) + _WIDEST_OFFSETS[1]
        )
    filters = event_selectors.SessionFilters(
        city=query.city,
        kind=query.kind,
        q=query.q,
        status=Session.Status.PUBLISHED,
        starts_after=starts_after,
        starts_before=starts_before,
    )
    sessions = list(event_selectors.session_list(user=user, filters=filters)[:HOME_MAX_SESSIONS])

    cards = []
    for session in sessions:
        day = local_start(session).date()
        if query.date_from is not None and day < query.date_from:
            continue
        if query.date_to is not None and day > query.date_to:
            continue
        card = SessionCard(session=session)
        if query.near is not None:
            card.distance_km = distance_km(query.near[0], query.near[1], session.city.latitude, session.city.longitude)
        cards.append(card)

    if user.is_authenticated and cards:
        mine = {r.session_id: r for r in registration_selectors.registrations_of_fan(fan=user)}
        for card in cards:
            card.registration = mine.get(card.session.id)
    if query.near is not None:
        cards.sort(key=lambda c: (round(c.distance_km or 0.0), c.session.starts_at, c.session.id))
    return cards


def fan_registration_for(*, user: User | AnonymousUser, session: Session) -> Registration | None:
    """The fan's active (confirmed or waitlisted) registration for this session, if any."""
    if not user.is_authenticated:
        return None
    return registration_selectors.registrations_of_fan(fan=user).filter(session=session).first()


def fan_registrations(*, user: User) -> QuerySet[Registration]:
    return registration_selectors.registrations_of_fan(fan=user).select_related(
        "session__stream", "session__moved_from_venue"
    )


@dataclass
class MySessions:
    upcoming: list[Registration]
    past: list[Registration]  # the latest first
    cancelled: list[Registration]  # sessions the organizers cancelled, the latest first


def split_my_sessions(registrations: list[Registration], *, now: dt.datetime) -> MySessions:
    """A fan's sessions: upcoming, past and cancelled; each marks whether it moved recently
    (``registration.moved``)."""
    split = MySessions(upcoming=[], past=[], cancelled=[])
    for registration in registrations:
        session = registration.session
        registration.moved = session.recently_moved(now=now)  # type: ignore[attr-defined]
        if session.status == Session.Status.CANCELLED:
            split.cancelled.append(registration)
        elif session.ends_at > now:
            split.upcoming.append(registration)
        else:
            split.past.append(registration)
    split.past.reverse()
    split.cancelled.reverse()
    return split


class Window(StrEnum):
    """What a visitor can expect from the registration API right now (display only)."""

    CANCELLED = "cancelled"
    DRAFT = "draft"
    STARTED = "started"
    NOT_YET = "not_yet"
    PRIORITY = "priority"
    OPEN = "open"
    CLOSED = "closed"


def registration_window(*, session: Session, now: dt.datetime | None = None) -> Window:
    now = now or timezone.now()
    if session.status == Session.Status.CANCELLED:
        return Window.CANCELLED
    if session.status == Session.Status.DRAFT:
        return Window.DRAFT
    if session.starts_at <= now:
        return Window.STARTED
    if session.registration_closes_at is not None and now >= session.registration_closes_at:
        return Window.CLOSED
    if session.registration_opens_at is not None and now < session.registration_opens_at:
        if session.priority_opens_at is not None and now >= session.priority_opens_at:
            return Window.PRIORITY
        return Window.NOT_YET
    return Window.OPEN


def stream_for_page(*, user: User | AnonymousUser, stream_id: int) -> Stream:
    """Raises Stream.DoesNotExist for a stream the user may not see."""
    return stream_selectors.streams_visible_to(user=user).select_related("session", "session__city").get(id=stream_id)


def may_watch_stream(*, user: User | AnonymousUser, stream: Stream) -> bool:
    """The stream's audience rule (streams.selectors.WatchRights)."""
    return stream_selectors.may_watch(user=user, stream=stream)


def stream_seat_figures(*, stream: Stream) -> dict[str, int]:
    """Registered fans and check-ins of the stream's session (the host dashboard's first row)."""
    return stream_selectors.seat_figures(stream=stream)


def stream_external_figures(*, stream: Stream) -> list[dict]:
    return stream_selectors.external_figures(stream=stream)


def can_watch_host_dashboard(*, user: User | AnonymousUser, stream: Stream) -> bool:
    """The host channel's rule (the stream's hosts and its organization's organizers)."""
    return stream_selectors.can_run_stream(user=user, stream=stream)


@dataclass(frozen=True)
class LiveFigures:
    concurrent: int
    peak: int
    total_views: int
    unique_viewers: int
    platforms: list[tuple[str, int]]
    stale: bool


def live_figures(*, stream: Stream) -> LiveFigures:
    """What the page shows before its websocket's first message: the live figures now."""
    figures = stream_selectors.stream_figures(stream=stream)
    return LiveFigures(
        concurrent=figures.concurrent,
        peak=figures.peak,  # the settled peak (streams.presence)
        total_views=figures.total_views,
        unique_viewers=figures.unique_viewers,
        platforms=sorted(figures.platforms.items(), key=lambda item: (-item[1], item[0])),
        stale=figures.stale,
    )


def add_to_calendar_links(*, session: Session) -> dict[str, str]:
    """Google Calendar and Outlook links (UTC times) and the .ics path on this host."""
    links = calendar_links(session)
    return {"google": links["google"], "outlook": links["outlook"], "ics": f"/api/sessions/{session.id}/calendar.ics"}


def with_calendar_links(registrations: list[Registration]) -> list[Registration]:
    """Attaches ``calendar`` links and the check-in code grouped for reading (``7K3M-9XQ2-HR4T``) to
    each registration (no queries: sessions come with venue, city and stream)."""
    for registration in registrations:
        registration.calendar = add_to_calendar_links(session=registration.session)  # type: ignore[attr-defined]
        registration.code_grouped = checkin_code_grouped(registration.checkin_code)  # type: ignore[attr-defined]
    return registrations
