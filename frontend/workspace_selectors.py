"""Reads for the organizers' and hosts' workspace (issue 12), composed from the other apps'
selectors. Times are on each venue's clock; nothing here writes or decides a business rule."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass, field

from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from accounts.models import User
from events import conflicts as event_conflicts
from events import selectors as event_selectors
from events.models import City, Series, Session
from project import formats
from registrations import selectors as registration_selectors


def person_name(user: User) -> str:
    """A person as others know them: their full name, else their username."""
    return user.get_full_name() or user.username


@dataclass
class BoardRow:
    session: Session
    seats: registration_selectors.SeatFigures
    hosts: list[str]
    conflicts: list[str] = field(default_factory=list)
    moved: bool = False

    @property
    def status(self) -> str:
        return self.session.status


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
    for session in sessions:
        cities.setdefault(session.city_id, session.city)
        rows[session.id] = BoardRow(
            session=session,
            seats=seats[session.id],
            hosts=[person_name(h) for h in session.hosts.all()],
            moved=session.recently_moved(now=now),
        )
    lines = _conflict_lines(event_selectors.series_conflict_list(series=series), rows)

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
