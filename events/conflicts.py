"""Scheduling conflicts, as plain functions over plain values.

A plan is a set of *slots* (a saved session, or a row of a plan being imported). Four rules:

- venue double-booked: two slots at one venue closer than ``VENUE_CHANGEOVER_MINUTES``;
- host double-booked: a host in two slots that overlap;
- host travel: a host cannot get from one slot's city to the next one's in time
  (great-circle distance / ``HOST_TRAVEL_SPEED_KMH`` + ``HOST_TRAVEL_BUFFER_MINUTES``;
  the same city needs only the buffer);
- night shoot before dusk: a night shoot starting between civil dawn and civil dusk at its venue.

Only non-cancelled sessions take part. ``find_conflicts`` groups slots by venue and by host and sweeps
each group in start order, so a whole month costs a sort, not n² comparisons; the loaders below fetch
every possibly clashing session of other series in two queries, whatever the number of slots.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from astral import Observer
from astral.sun import dawn, dusk, elevation
from django.conf import settings
from django.db.models import Q
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from accounts.models import User
from events.models import City, Session, Venue
from project import formats

VENUE = "venue_double_booked"
HOST = "host_double_booked"
TRAVEL = "host_travel"
DUSK = "night_shoot_before_dusk"
KINDS = (VENUE, HOST, TRAVEL, DUSK)

# The field of a session that an organizer changes to resolve each kind of conflict.
FIELD_OF_KIND = {VENUE: "venue", HOST: "hosts", TRAVEL: "hosts", DUSK: "starts_at"}

EARTH_RADIUS_KM = 6371.0088
# Half the earth's circumference: no two places are further apart.
MAX_DISTANCE_KM = math.pi * EARTH_RADIUS_KM


@dataclass(frozen=True)
class Slot:
    """What the rules need to know of a session (saved, or a plan row not yet saved)."""

    key: str
    title: str
    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    venue_id: int | None
    venue_name: str
    city_id: int
    city_name: str
    city_lat: float
    city_lon: float
    lat: float  # where the session happens: the venue, else the city
    lon: float
    timezone: str
    host_ids: frozenset[int]
    session_id: int | None = None
    row: int | None = None
    organization_id: int | None = None
    foreign: bool = False  # another organization's session, named without its id or title
    row_base: int = 0  # how people number the rows: 2 for a spreadsheet's first row under its header

    def ref(self) -> dict[str, Any]:
        """How an error names this slot: a session id, or a row of the plan being imported."""
        local = zoneinfo.ZoneInfo(self.timezone)
        ref: dict[str, Any] = {
            "session": self.session_id,
            "title": self.title,
            "starts_at": formats.iso_local(self.starts_at, local),
            "ends_at": formats.iso_local(self.ends_at, local),
            "venue": self.venue_id,
            "city": self.city_id,
        }
        if self.row is not None:
            ref["row"] = self.row
        return ref

    def label(self) -> str:
        if self.foreign:
            return _("a session of another organization")
        if self.row is not None:
            return _("row %(row)s “%(title)s”") % {"row": self.row + self.row_base, "title": self.title}
        return _("“%(title)s”") % {"title": self.title}

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(zoneinfo.ZoneInfo(self.timezone))


@dataclass(frozen=True)
class Conflict:
    kind: str
    a: Slot
    b: Slot | None = None
    host_ids: tuple[int, ...] = ()
    details: dict[str, Any] = field(default_factory=dict)
    # The hosts' names, as people know them (filled in by ``conflicts_of_slots``; ids otherwise).
    host_names: tuple[str, ...] = ()

    def other(self, slot: Slot) -> Slot | None:
        if self.b is None:
            return None
        return self.b if slot.key == self.a.key else self.a

    def involves(self, slot: Slot) -> bool:
        return slot.key == self.a.key or (self.b is not None and slot.key == self.b.key)

    @property
    def field(self) -> str:
        return FIELD_OF_KIND[self.kind]

    def message_for(self, slot: Slot) -> str:
        """The conflict told from ``slot``'s side, in the active language."""
        other = self.other(slot)
        if self.kind == DUSK:
            when = self.details.get("dusk")
            if when is None:
                return _("A night shoot needs darkness, but the sky never gets dark there on that date.")
            return _(
                "A night shoot must start after civil dusk at the venue: dusk is at %(dusk)s on %(day)s (%(zone)s)."
            ) % {
                "dusk": formats.clock(dt.datetime.fromisoformat(when)),
                "day": formats.day(slot.starts_at, slot.timezone, year=True),
                "zone": formats.zone_label(slot.starts_at, slot.timezone),
            }
        assert other is not None  # noqa: S101 - pairs always have two slots
        span = formats.when(other.starts_at, other.timezone, end=other.ends_at, year=True)
        if other.timezone != slot.timezone:  # the reader thinks in this slot's zone: name the other's
            span += " " + formats.zone_label(other.starts_at, other.timezone)
        if self.kind == VENUE:
            return _(
                "%(venue)s is booked by %(other)s (%(span)s); sessions at one venue need %(minutes)s minutes "
                "between them."
            ) % {
                "venue": slot.venue_name,
                "other": other.label(),
                "span": span,
                "minutes": self.details["changeover_minutes"],
            }
        hosts = pgettext("list separator", ", ").join(self.host_names or [str(h) for h in self.host_ids])
        if self.kind == HOST:
            return _("%(hosts)s is also hosting %(other)s (%(span)s) at the same time.") % {
                "hosts": hosts,
                "other": other.label(),
                "span": span,
            }
        return _(
            "%(hosts)s cannot travel %(from_city)s -> %(to_city)s in time for %(other)s (%(span)s): "
            "needs %(required)s, has %(available)s."
        ) % {
            "hosts": hosts,
            "from_city": self.details["from_city"],
            "to_city": self.details["to_city"],
            "other": other.label(),
            "span": span,
            "required": formats.duration(self.details["required_minutes"]),
            "available": formats.duration(self.details["available_minutes"]),
        }

    def as_dict(self, slot: Slot | None = None) -> dict[str, Any]:
        """The JSON shape: ``session`` is the *other* session when told from ``slot``'s side."""
        slot = slot or self.a
        other = self.other(slot)
        body: dict[str, Any] = {"kind": self.kind, "field": self.field, "message": self.message_for(slot)}
        if other is not None:
            body["session"] = other.session_id
            body["other"] = other.ref()
        else:
            body["session"] = slot.session_id
        if self.host_ids:
            body["hosts"] = list(self.host_ids)
            body["host"] = self.host_ids[0]
            if self.host_names:
                body["host_names"] = list(self.host_names)
        body.update(self.details)
        return body

    def as_pair_dict(self) -> dict[str, Any]:
        """Both sides, for a list of all conflicts of a series."""
        body = self.as_dict(self.a)
        body["sessions"] = [self.a.session_id] + ([self.b.session_id] if self.b else [])
        body["session"] = self.a.session_id
        body["first"] = self.a.ref()
        body.pop("other", None)
        if self.b is not None:
            body["second"] = self.b.ref()
        return body


# --- geometry and the sky -----------------------------------------------------------------------


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi, dlmb = phi2 - phi1, math.radians(lon2 - lon1)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlmb / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def changeover() -> dt.timedelta:
    return dt.timedelta(minutes=settings.VENUE_CHANGEOVER_MINUTES)


def travel_time(distance_km: float) -> dt.timedelta:
    """Time a host needs between two sessions ``distance_km`` apart (0 for the same city)."""
    hours = distance_km / settings.HOST_TRAVEL_SPEED_KMH if distance_km > 0 else 0.0
    return dt.timedelta(hours=hours, minutes=settings.HOST_TRAVEL_BUFFER_MINUTES)


def max_travel_time() -> dt.timedelta:
    """No two sessions further apart in time than this can be a travel conflict."""
    return travel_time(MAX_DISTANCE_KM)


@lru_cache(maxsize=8192)
def civil_twilight(lat: float, lon: float, tz_name: str, date: dt.date) -> tuple[dt.datetime | None, dt.datetime]:
    """(civil dawn, civil dusk) on ``date`` in local time. When the sun never gets 6° below the horizon
    (polar summer) there is no dusk: returns (None, end of day). In a polar night it is dark all day:
    returns (None, start of day)."""
    observer = Observer(latitude=lat, longitude=lon)
    tz = zoneinfo.ZoneInfo(tz_name)
    try:
        return dawn(observer, date=date, tzinfo=tz), dusk(observer, date=date, tzinfo=tz)
    except ValueError:
        noon = dt.datetime.combine(date, dt.time(12), tzinfo=tz)
        if elevation(observer, noon) > -6:
            return None, dt.datetime.combine(date, dt.time.max, tzinfo=tz)
        return None, dt.datetime.combine(date, dt.time.min, tzinfo=tz)


def dusk_conflict(slot: Slot) -> Conflict | None:
    """A night shoot must start in civil darkness: after dusk, or before dawn of its local date."""
    if slot.kind != Session.Kind.NIGHT_SHOOT:
        return None
    start = slot.local(slot.starts_at)
    dawn_at, dusk_at = civil_twilight(round(slot.lat, 4), round(slot.lon, 4), slot.timezone, start.date())
    if dawn_at is None:
        polar_day = dusk_at.time() == dt.time.max
        if not polar_day:
            return None
        return Conflict(DUSK, slot, details={"dusk": None})
    if dawn_at <= start < dusk_at:
        return Conflict(DUSK, slot, details={"dusk": dusk_at.replace(microsecond=0).isoformat()})
    return None


# --- pairs --------------------------------------------------------------------------------------


def _overlap(a: Slot, b: Slot) -> bool:
    return a.starts_at < b.ends_at and b.starts_at < a.ends_at


def _travel_conflict(earlier: Slot, later: Slot, host_ids: tuple[int, ...]) -> Conflict | None:
    if earlier.city_id == later.city_id:
        distance = 0.0
    else:
        distance = haversine_km(earlier.city_lat, earlier.city_lon, later.city_lat, later.city_lon)
    needed = travel_time(distance)
    available = later.starts_at - earlier.ends_at
    if available >= needed:
        return None
    return Conflict(
        TRAVEL,
        earlier,
        later,
        host_ids,
        {
            "from_city": earlier.city_name,
            "to_city": later.city_name,
            "distance_km": round(distance, 1),
            "required_minutes": math.ceil(needed.total_seconds() / 60),
            "available_minutes": math.floor(available.total_seconds() / 60),
        },
    )


def find_conflicts(focus: Sequence[Slot], others: Iterable[Slot] = ()) -> list[Conflict]:
    """Every conflict that involves at least one ``focus`` slot, among ``focus`` and ``others``.

    Slots are grouped by venue and by host and each group is swept in start order: a slot is compared
    with the ones that start before it ends (plus the changeover), and, for travel, with the next one
    that does not overlap it (consecutive sessions of the host). Cost: O(n log n + conflicts).
    """
    focus_keys = {slot.key for slot in focus}
    slots = list(focus) + [slot for slot in others if slot.key not in focus_keys]
    by_venue: dict[int, list[Slot]] = defaultdict(list)
    by_host: dict[int, list[Slot]] = defaultdict(list)
    for slot in slots:
        if slot.venue_id is not None:
            by_venue[slot.venue_id].append(slot)
        for host_id in slot.host_ids:
            by_host[host_id].append(slot)

    found: dict[tuple[str, str, str], Conflict] = {}
    gap = changeover()
    for group in by_venue.values():
        group.sort(key=lambda s: (s.starts_at, s.key))
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                if b.starts_at >= a.ends_at + gap:
                    break
                if a.key in focus_keys or b.key in focus_keys:
                    found[(VENUE, a.key, b.key)] = Conflict(
                        VENUE, a, b, details={"changeover_minutes": settings.VENUE_CHANGEOVER_MINUTES}
                    )

    host_pairs: dict[tuple[str, str, str], tuple[Slot, Slot, set[int]]] = {}
    for host_id, group in by_host.items():
        group.sort(key=lambda s: (s.starts_at, s.key))
        for i, a in enumerate(group):
            for b in group[i + 1 :]:
                relevant = a.key in focus_keys or b.key in focus_keys
                if _overlap(a, b):
                    if relevant:
                        host_pairs.setdefault((HOST, a.key, b.key), (a, b, set()))[2].add(host_id)
                    continue
                # The first slot after ``a`` that does not overlap it: the host's next stop.
                if relevant:
                    host_pairs.setdefault((TRAVEL, a.key, b.key), (a, b, set()))[2].add(host_id)
                break

    for (kind, a_key, b_key), (a, b, hosts) in host_pairs.items():
        host_ids = tuple(sorted(hosts))
        conflict = Conflict(HOST, a, b, host_ids) if kind == HOST else _travel_conflict(a, b, host_ids)
        if conflict is not None:
            found[(kind, a_key, b_key)] = conflict

    conflicts = sorted(found.values(), key=lambda c: (c.a.starts_at, c.a.key, KINDS.index(c.kind)))
    for slot in focus:
        night = dusk_conflict(slot)
        if night is not None:
            conflicts.append(night)
    return conflicts


# --- loading slots from the database --------------------------------------------------------------


def slot_at(
    *,
    key: str,
    title: str,
    kind: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    venue: Venue | None,
    city: City,
    timezone: str,
    host_ids: Iterable[int],
    organization_id: int | None,
    session_id: int | None = None,
    row: int | None = None,
) -> Slot:
    """A slot at a venue (or, for a livestream without one, at its city)."""
    return Slot(
        key=key,
        session_id=session_id,
        row=row,
        title=title,
        kind=kind,
        starts_at=starts_at,
        ends_at=ends_at,
        venue_id=venue.id if venue else None,
        venue_name=venue.name if venue else "",
        city_id=city.id,
        city_name=city.name,
        city_lat=city.latitude,
        city_lon=city.longitude,
        lat=venue.latitude if venue else city.latitude,
        lon=venue.longitude if venue else city.longitude,
        timezone=timezone,
        host_ids=frozenset(host_ids),
        organization_id=organization_id,
    )


def slot_of_session(session: Session, host_ids: Iterable[int]) -> Slot:
    """Needs ``city`` and ``venue`` loaded (select_related)."""
    return slot_at(
        key=f"s{session.id}",
        session_id=session.id,
        title=session.title,
        kind=session.kind,
        starts_at=session.starts_at,
        ends_at=session.ends_at,
        venue=session.venue,
        city=session.city,
        timezone=session.timezone,
        host_ids=host_ids,
        organization_id=session.series.organization_id,
    )


def slots_around(
    *,
    venue_ids: Iterable[int],
    host_ids: Iterable[int],
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    exclude: Q | None = None,
) -> list[Slot]:
    """Non-cancelled sessions that could clash with anything at ``venue_ids`` or hosted by ``host_ids``
    between ``starts_at`` and ``ends_at``: two queries. A slot's ``host_ids`` are only those among
    ``host_ids`` (the others cannot matter to the slots being checked)."""
    venue_ids, host_ids = set(venue_ids), set(host_ids)
    live = ~Q(status=Session.Status.CANCELLED)
    if exclude is not None:
        live &= ~exclude
    sessions: dict[int, Session] = {}
    if venue_ids:
        gap = changeover()
        qs = Session.objects.filter(
            live, venue_id__in=venue_ids, starts_at__lt=ends_at + gap, ends_at__gt=starts_at - gap
        ).select_related("city", "venue", "series")
        sessions.update((s.id, s) for s in qs)
    hosts_of: dict[int, set[int]] = defaultdict(set)
    if host_ids:
        reach = max_travel_time()
        through = Session.hosts.through.objects.filter(
            user_id__in=host_ids,
            session__in=Session.objects.filter(live, starts_at__lt=ends_at + reach, ends_at__gt=starts_at - reach),
        ).select_related("session__city", "session__venue", "session__series")
        for row in through:
            sessions.setdefault(row.session_id, row.session)
            hosts_of[row.session_id].add(row.user_id)
    return [slot_of_session(s, hosts_of.get(s.id, ())) for s in sessions.values()]


def _seen_by(slot: Slot, organization_id: int | None) -> Slot:
    if organization_id is None or slot.organization_id in (None, organization_id):
        return slot
    return dataclasses.replace(slot, title="", session_id=None, foreign=True)


def seen_by(conflict: Conflict, organization_id: int | None) -> Conflict:
    """A host may work for several organizations: their sessions elsewhere still block them, but are
    told to this organization's planners without their id or title (times only)."""
    a, b = _seen_by(conflict.a, organization_id), conflict.b and _seen_by(conflict.b, organization_id)
    if a is conflict.a and b is conflict.b:
        return conflict
    return dataclasses.replace(conflict, a=a, b=b)


def conflicts_of_slots(slots: Sequence[Slot], *, exclude: Q | None = None) -> list[Conflict]:
    """Conflicts of ``slots`` among themselves and with every saved session (minus ``exclude``),
    as the organization of the first slot sees them."""
    if not slots:
        return []
    others = slots_around(
        venue_ids={s.venue_id for s in slots if s.venue_id is not None},
        host_ids={h for s in slots for h in s.host_ids},
        starts_at=min(s.starts_at for s in slots),
        ends_at=max(s.ends_at for s in slots),
        exclude=exclude,
    )
    viewer = slots[0].organization_id
    return with_host_names([seen_by(conflict, viewer) for conflict in find_conflicts(slots, others)])


def with_host_names(found: list[Conflict]) -> list[Conflict]:
    """Conflicts that name their hosts as people know them ("Wang Lei", not "host 3"): one query."""
    ids = {h for c in found for h in c.host_ids}
    if not ids:
        return found
    names = {
        user_id: f"{first} {last}".strip() or username
        for user_id, first, last, username in User.objects.filter(id__in=ids).values_list(
            "id", "first_name", "last_name", "username"
        )
    }
    return [
        dataclasses.replace(c, host_names=tuple(names.get(h, str(h)) for h in c.host_ids)) if c.host_ids else c
        for c in found
    ]


def series_conflicts(*, series_id: int, loaded: Sequence[Session] | None = None) -> list[Conflict]:
    """All conflicts of a series' non-cancelled sessions (drafts included), with each other and with
    other series' sessions. Four queries whatever the size of the series; two when the caller has
    ``loaded`` every session of the series already (with series, city, venue and hosts)."""
    hosts_of: dict[int, set[int]] = defaultdict(set)
    if loaded is not None:
        sessions = [s for s in loaded if s.status != Session.Status.CANCELLED]
        for session in sessions:
            hosts_of[session.id].update(h.id for h in session.hosts.all())
    else:
        sessions = list(
            Session.objects.filter(series_id=series_id)
            .exclude(status=Session.Status.CANCELLED)
            .select_related("city", "venue", "series")
            .order_by("starts_at", "id")
        )
        for session_id, user_id in Session.hosts.through.objects.filter(session__series_id=series_id).values_list(
            "session_id", "user_id"
        ):
            hosts_of[session_id].add(user_id)
    slots = [slot_of_session(s, hosts_of.get(s.id, ())) for s in sessions]
    return conflicts_of_slots(slots, exclude=Q(series_id=series_id))
