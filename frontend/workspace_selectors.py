"""Reads for the organizers' and hosts' workspace (issue 12), composed from the other apps'
selectors. Times are on each venue's clock; nothing here writes or decides a business rule."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from django.utils.translation import pgettext

from accounts.models import User
from events import conflicts as event_conflicts
from events import selectors as event_selectors
from events.models import City, Series, Session
from project import content, formats
from registrations import selectors as registration_selectors


def _stream_of(session: Session):
    """The session's livestream (loaded with it), if it has one."""
    try:
        return session.stream
    except Session.stream.RelatedObjectDoesNotExist:  # type: ignore[attr-defined]
        return None


def person_name(user: User) -> str:
    """A person as others know them: their full name, else their username."""
    return user.get_full_name() or user.username


@dataclass
class BoardRow:
    """A session as the board shows it, its texts made once here rather than by template tags
    (a month is ~130 rows: the page stays well under its time budget)."""

    session: Session
    seats: registration_selectors.SeatFigures
    hosts: str
    time: str  # "19:00–21:00" on the venue's clock
    zone: str  # "Beijing time (UTC+8)"
    title: str
    venue: str
    kind: str
    status: str
    conflicts: list[str] = field(default_factory=list)
    moved: bool = False
    stream_status: str = ""  # the session's livestream, as every page shows it
    stream_label: str = ""

    @property
    def id(self) -> str:
        """As text: template ints go through number formatting, 130 times a page."""
        return str(self.session.id)

    @property
    def seats_text(self) -> str:
        return f"{self.seats.taken}/{self.seats.capacity}"

    @property
    def waitlist_text(self) -> str:
        return str(self.seats.waitlist) if self.seats.waitlist else ""

    @property
    def conflict_count(self) -> str:
        return str(len(self.conflicts))


@dataclass
class BoardCity:
    city: City
    rows: list[BoardRow]


@dataclass
class BoardDay:
    day: dt.date
    label: str
    cities: list[BoardCity]

    @property
    def count(self) -> int:
        return sum(len(c.rows) for c in self.cities)


@dataclass
class ConflictLine:
    """A conflict in words, told from the side of the session that starts first."""

    kind: str
    session_id: int | None
    title: str
    when: str
    message: str


@dataclass
class MonthBoard:
    series: Series
    days: list[BoardDay]
    conflicts: list[ConflictLine]
    sessions: int
    cities: list[City]
    totals: dict[str, int]


def _conflict_lines(found: list[event_conflicts.Conflict], rows: dict[int, BoardRow]) -> list[ConflictLine]:
    lines = []
    for conflict in found:
        slot = conflict.a
        lines.append(
            ConflictLine(
                kind=conflict.kind,
                session_id=slot.session_id,
                title=slot.title,
                when=formats.when_in_zone(slot.starts_at, slot.timezone, end=slot.ends_at),
                message=conflict.message_for(slot),
            )
        )
        for side in (conflict.a, conflict.b):
            if side is not None and side.session_id in rows:
                rows[side.session_id].conflicts.append(conflict.message_for(side))
    return lines


def month_board(*, user: User | AnonymousUser, series_id: int, city_id: int | None = None) -> MonthBoard:
    """Every session of a series by local day and city, with seats, hosts, status and conflicts.
    A constant number of queries: the series, sessions (+ hosts), seat figures, conflicts, names.
    Raises Series.DoesNotExist for anyone but its organizers."""
    series = event_selectors.series_for_planner(user=user, series_id=series_id)
    sessions = event_selectors.series_sessions_for_board(series=series)
    seats = registration_selectors.seat_figures(sessions=sessions)
    now = timezone.now()
    rows: dict[int, BoardRow] = {}
    cities: dict[int, City] = {}
    kinds, statuses = dict(Session.Kind.choices), dict(Session.Status.choices)
    separator = pgettext("list separator", ", ")
    zones: dict[tuple[str, dt.date], str] = {}
    for session in sessions:
        cities.setdefault(session.city_id, session.city)
        start = formats.local(session.starts_at, session.timezone)
        zone_key = (session.timezone, start.date())
        if zone_key not in zones:
            zones[zone_key] = formats.zone_label(session.starts_at, session.timezone)
        rows[session.id] = BoardRow(
            session=session,
            seats=seats[session.id],
            hosts=separator.join(person_name(h) for h in session.hosts.all()),
            time=f"{start:%H:%M}–{formats.clock(session.ends_at, session.timezone)}",
            zone=zones[zone_key],
            title=content.translated(session, "title"),
            venue=content.translated(session.venue, "name"),
            kind=str(kinds.get(session.kind, session.kind)),
            status=str(statuses.get(session.status, session.status)),
            moved=session.recently_moved(now=now),
        )
        stream = _stream_of(session)
        if stream is not None:
            rows[session.id].stream_status = stream.status
            rows[session.id].stream_label = str(stream.get_status_display())
    lines = _conflict_lines(event_selectors.series_conflict_list(series=series, loaded=sessions), rows)

    by_day: dict[dt.date, dict[int, list[BoardRow]]] = defaultdict(lambda: defaultdict(list))
    for session in sessions:
        if city_id is not None and session.city_id != city_id:
            continue
        day = formats.local(session.starts_at, session.timezone).date()
        by_day[day][session.city_id].append(rows[session.id])
    days = [
        BoardDay(
            day=day,
            label=formats.day(dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC), year=True),
            cities=[
                BoardCity(city=cities[cid], rows=day_rows)
                for cid, day_rows in sorted(by_day[day].items(), key=lambda item: cities[item[0]].name)
            ],
        )
        for day in sorted(by_day)
    ]
    totals = {
        "published": sum(1 for s in sessions if s.status == Session.Status.PUBLISHED),
        "draft": sum(1 for s in sessions if s.status == Session.Status.DRAFT),
        "cancelled": sum(1 for s in sessions if s.status == Session.Status.CANCELLED),
        "conflicts": len(lines),
    }
    return MonthBoard(
        series=series,
        days=days,
        conflicts=lines,
        sessions=len(sessions),
        cities=sorted(cities.values(), key=lambda c: c.name),
        totals=totals,
    )


@dataclass
class FillLine:
    label: str
    sessions: int
    taken: int
    capacity: int
    waitlist: int
    checked_in: int

    @property
    def fill_rate(self) -> float:
        return self.taken / self.capacity if self.capacity else 0.0

    @property
    def fill_percent(self) -> int:
        return round(self.fill_rate * 100)


@dataclass
class SeriesFigures:
    series: Series
    total: FillLine
    by_city: list[FillLine]
    by_kind: list[FillLine]
    longest_waitlists: list[tuple[Session, registration_selectors.SeatFigures]]


LONGEST_WAITLISTS = 10


def _fill(label: str, items: list[tuple[Session, registration_selectors.SeatFigures]]) -> FillLine:
    return FillLine(
        label=label,
        sessions=len(items),
        taken=sum(f.taken for _, f in items),
        capacity=sum(f.capacity for _, f in items),
        waitlist=sum(f.waitlist for _, f in items),
        checked_in=sum(f.checked_in for _, f in items),
    )


def series_figures(*, user: User | AnonymousUser, series_id: int) -> SeriesFigures:
    """Seats, waitlists and check-ins of a series' sessions that take place (cancelled ones left
    out): fill rate per city and per kind, and where the waitlists are longest. Constant queries."""
    series = event_selectors.series_for_planner(user=user, series_id=series_id)
    sessions = [
        s for s in event_selectors.series_sessions_for_board(series=series) if s.status != Session.Status.CANCELLED
    ]
    seats = registration_selectors.seat_figures(sessions=sessions)
    items = [(s, seats[s.id]) for s in sessions]
    by_city: dict[int, list] = defaultdict(list)
    by_kind: dict[str, list] = defaultdict(list)
    for session, figures in items:
        by_city[session.city_id].append((session, figures))
        by_kind[session.kind].append((session, figures))
    kinds = dict(Session.Kind.choices)
    return SeriesFigures(
        series=series,
        total=_fill("", items),
        by_city=sorted(
            (_fill(content.city_label(group[0][0].city), group) for group in by_city.values()),
            key=lambda line: -line.fill_rate,
        ),
        by_kind=[_fill(str(kinds[kind]), by_kind[kind]) for kind in kinds if kind in by_kind],
        longest_waitlists=sorted((i for i in items if i[1].waitlist), key=lambda i: -i[1].waitlist)[:LONGEST_WAITLISTS],
    )
