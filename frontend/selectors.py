"""Reads for the pages, composed from the other apps' selectors. Nothing here writes, and nothing
here decides a business rule: the REST API behind the buttons stays the authority (a page only
says what it expects the API to answer)."""

import copy
import datetime as dt
import math
import zoneinfo
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.core.paginator import Page, Paginator
from django.db.models import Case, IntegerField, Q, Value, When
from django.utils import timezone

from accounts.models import User
from calendars.selectors import calendar_links
from events import selectors as event_selectors
from events.models import Session
from registrations import selectors as registration_selectors
from registrations.models import Registration, checkin_code_grouped
from registrations.selectors import FanPlace
from streams import selectors as stream_selectors
from streams.models import Stream

EARTH_RADIUS_KM = 6371.0088


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


def home_page(*, query: HomeQuery, page_number: str | None, per_page: int, now: dt.datetime | None = None) -> Page:
    """One page of upcoming published sessions for the home page, filtered and, with ``near``,
    sorted by the distance from that point to the session's city (then by start).

    Paginated in the database: a count and one page of rows, whatever the number of sessions. Dates
    are local days of each session's venue ("the 12th in Luoyang"): one range per time zone in use.
    The page's ``object_list`` holds ``SessionCard``s. The same for every visitor (no personal data).
    """
    now = now or timezone.now()
    filters = event_selectors.SessionFilters(
        city=query.city, kind=query.kind, q=query.q, status=Session.Status.PUBLISHED, starts_after=now
    )
    sessions = event_selectors.session_list(user=AnonymousUser(), filters=filters)
    if query.date_from is not None or query.date_to is not None:
        sessions = sessions.filter(_on_local_days(query.date_from, query.date_to))
    distances: dict[int, float] = {}
    if query.near is not None:
        lat, lon = query.near
        distances = {
            city.id: distance_km(lat, lon, city.latitude, city.longitude) for city in event_selectors.city_list()
        }
        rank = Case(
            *(When(city_id=city_id, then=Value(round(km))) for city_id, km in distances.items()),
            default=Value(0),
            output_field=IntegerField(),
        )
        sessions = sessions.annotate(distance_rank=rank).order_by("distance_rank", "starts_at", "id")
    page: Page[Any] = Paginator(sessions, per_page).get_page(page_number)
    page.object_list = [
        SessionCard(session=session, distance_km=distances.get(session.city_id) if query.near else None)
        for session in page.object_list
    ]
    return page


def _on_local_days(date_from: dt.date | None, date_to: dt.date | None) -> Q:
    """Sessions whose start falls on these local days (both inclusive) on their venue's clock."""
    condition = Q(pk__in=[])
    for zone_name in event_selectors.timezones_in_use():
        zone = zoneinfo.ZoneInfo(zone_name)
        in_zone = Q(timezone=zone_name)
        if date_from is not None:
            in_zone &= Q(starts_at__gte=dt.datetime.combine(date_from, dt.time.min, tzinfo=zone))
        if date_to is not None:
            in_zone &= Q(starts_at__lt=dt.datetime.combine(date_to + dt.timedelta(days=1), dt.time.min, tzinfo=zone))
        condition |= in_zone
    return condition


def fan_registrations_among(*, user: User | AnonymousUser, session_ids: list[int]) -> list[FanPlace]:
    """The fan's active registrations for these sessions (one query; none when signed out)."""
    if not user.is_authenticated:
        return []
    return registration_selectors.fan_places(fan_id=user.pk, session_ids=session_ids)


def seats_now_key(session_id: int) -> str:
    return registration_selectors.seats_now_key(session_id)


_SEAT_FIGURES = ("capacity", "confirmed_count", "waitlist_count", "waitlist_enabled", "offered_count")


def with_current_seats(session: Session, *, registration: FanPlace | None, shared: object = None) -> Session:
    """A copy of the session (out of the page cache) with its seat figures as of now.

    A fan who holds a registration sees the figures read with it, in the same query: the page
    they reload after clicking never shows a seat that is gone. Anyone else sees the shared copy,
    at most a second old (``shared``: that copy if the caller read it already), which the page's
    script then keeps current."""
    source: FanPlace | registration_selectors.SeatsNow | None = registration
    if source is None:
        source = registration_selectors.seats_now_shared(session_id=session.id, cached=shared)
        if source is None:  # not public: the session was read just now, its figures are current
            return session
    session = copy.copy(session)  # the cached one may be this process's copy, shared by its threads
    for figure in _SEAT_FIGURES:  # seats held by open offers (offered_count) are not free
        setattr(session, figure, getattr(source, figure))
    return session


def fan_place_and_seats(
    *, user: User | AnonymousUser, session_id: int
) -> tuple[FanPlace | None, registration_selectors.SeatsNow | None]:
    """A signed-in fan's registration for the session, if any, and the seat figures as of now, in
    one query; (None, None) for a visitor, who is shown the shared figures."""
    if not user.is_authenticated:
        return None, None
    return registration_selectors.fan_place_and_seats(fan_id=user.pk, session_id=session_id)


def fan_registrations(*, user: User) -> list[Registration]:
    """The fan's registrations with their sessions, waitlist positions included (no count each)."""
    registrations = registration_selectors.registrations_of_fan(fan=user).select_related(
        "session__stream", "session__moved_from_venue"
    )
    return registration_selectors.with_waitlist_positions(list(registrations))


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


def draw_of(*, session: Session) -> dict | None:
    """A draw session's draw as its page shows it (registrations' summary); None first come."""
    if session.allocation != Session.Allocation.DRAW or session.status == Session.Status.DRAFT:
        return None
    return registration_selectors.draw_summary(session=session)
