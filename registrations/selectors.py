"""Reads of seats and registrations, for this app and for the others (calendars, emails)."""

import dataclasses
import datetime as dt
from dataclasses import dataclass

from django.core.cache import cache
from django.db.models import Count, QuerySet
from django.utils import timezone

from accounts.models import User
from accounts.selectors import organizer_organization_ids
from events.models import Session
from project.db import prepared_cursor
from registrations import lines
from registrations.models import PriorityCode, Registration

# Registrations that hold or wait for a seat (a draw entry waits for the draw).
ACTIVE_STATUSES = (
    Registration.Status.CONFIRMED.value,
    Registration.Status.WAITLISTED.value,
    Registration.Status.OFFERED.value,
    Registration.Status.ENTERED.value,
)


def registrations_of_fan(*, fan: User, statuses=ACTIVE_STATUSES) -> QuerySet[Registration]:
    return (
        Registration.objects.filter(fan=fan, status__in=statuses)
        .select_related("session", "session__venue", "session__city")
        .order_by("session__starts_at", "id")
    )


def active_registrations_of_session(*, session: Session) -> QuerySet[Registration]:
    """Confirmed and waitlisted registrations: the fans to tell when a session changes."""
    return Registration.objects.filter(session=session, status__in=ACTIVE_STATUSES).select_related("fan")


def registration_of_fan(*, fan: User, registration_id: int) -> Registration:
    """A fan's own registration; anyone else's is indistinguishable from a missing one (404)."""
    return Registration.objects.select_related("session", "session__venue", "session__city").get(
        id=registration_id, fan=fan
    )


def priority_codes_visible_to(*, user: User) -> QuerySet[PriorityCode]:
    """Codes of the organizations the user organizes (all of them for a superuser)."""
    org_ids = organizer_organization_ids(user=user)
    qs = PriorityCode.objects.all()
    if org_ids is not None:
        qs = qs.filter(organization_id__in=org_ids)
    return qs.order_by("-created_at", "id")


@dataclass(frozen=True)
class CheckinStats:
    session: int
    capacity: int
    confirmed: int
    checked_in: int
    not_checked_in: int
    waitlisted: int
    cancelled: int
    checkin_rate: float
    first_checkin_at: dt.datetime | None
    last_checkin_at: dt.datetime | None
    timeline: list[dict]


def checkin_stats(*, session: Session, bucket_minutes: int = 15) -> CheckinStats:
    """Door figures for hosts: how many of the confirmed fans are in, and when they came
    (check-ins per ``bucket_minutes``, in UTC buckets)."""
    counts = dict(Registration.objects.filter(session=session).values_list("status").annotate(n=Count("id")).order_by())
    times: list[dt.datetime] = sorted(
        moment
        for moment in Registration.objects.filter(session=session, checked_in_at__isnull=False).values_list(
            "checked_in_at", flat=True
        )
        if moment is not None
    )
    buckets: dict[dt.datetime, int] = {}
    for moment in times:
        start = moment.replace(minute=moment.minute - moment.minute % bucket_minutes, second=0, microsecond=0)
        buckets[start] = buckets.get(start, 0) + 1
    confirmed = counts.get(Registration.Status.CONFIRMED, 0)
    return CheckinStats(
        session=session.id,
        capacity=session.capacity,
        confirmed=confirmed,
        checked_in=len(times),
        not_checked_in=confirmed - len(times),
        waitlisted=counts.get(Registration.Status.WAITLISTED, 0),
        cancelled=counts.get(Registration.Status.CANCELLED, 0),
        checkin_rate=round(len(times) / confirmed, 4) if confirmed else 0.0,
        first_checkin_at=times[0] if times else None,
        last_checkin_at=times[-1] if times else None,
        timeline=[{"at": at, "checked_in": n} for at, n in sorted(buckets.items())],
    )


@dataclass(frozen=True)
class SeatFigures:
    taken: int
    capacity: int
    waitlist: int
    checked_in: int

    @property
    def fill_rate(self) -> float:
        return self.taken / self.capacity if self.capacity else 0.0


def seat_figures(*, sessions: list[Session]) -> dict[int, SeatFigures]:
    """Seats taken, capacity, waitlist length and check-ins per session: the counters kept on the
    session row (changed only by this app's services) plus one query for the check-ins."""
    ids = [s.id for s in sessions]
    checked_in = (
        dict(
            Registration.objects.filter(session_id__in=ids, checked_in_at__isnull=False)
            .values_list("session_id")
            .annotate(n=Count("id"))
            .order_by()
        )
        if ids
        else {}
    )
    return {
        s.id: SeatFigures(
            taken=s.confirmed_count, capacity=s.capacity, waitlist=s.waitlist_count, checked_in=checked_in.get(s.id, 0)
        )
        for s in sessions
    }


def fan_registration_statuses(*, fan: User, session_ids: list[int] | None = None) -> dict[int, str]:
    """Session id -> the fan's registration status there, for the sessions where the fan holds one
    that is not cancelled (one query; streams asks it who may watch)."""
    if not fan.is_authenticated:
        return {}
    qs = Registration.objects.filter(fan=fan).exclude(status=Registration.Status.CANCELLED)
    if session_ids is not None:
        qs = qs.filter(session_id__in=session_ids)
    return dict(qs.values_list("session_id", "status"))


def registered_fan_ids(*, session_id: int) -> set[int]:
    """Fans holding a registration of the session that is not cancelled (confirmed, waitlisted, and
    whatever else is not cancelled: entered, offered)."""
    return set(
        Registration.objects.filter(session_id=session_id)
        .exclude(status=Registration.Status.CANCELLED)
        .values_list("fan_id", flat=True)
    )


def registration_counts(*, session_id: int) -> dict[str, int]:
    """Registrations of a session by status, cancelled left out."""
    rows = (
        Registration.objects.filter(session_id=session_id)
        .exclude(status=Registration.Status.CANCELLED)
        .values_list("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {status: n for status, n in rows}


def checked_in_count(*, session_id: int) -> int:
    return Registration.objects.filter(session_id=session_id, checked_in_at__isnull=False).count()


@dataclass(frozen=True)
class RosterLine:
    registration: Registration
    name: str
    checked_in_by: str

    @property
    def priority_code(self) -> str:
        return self.registration.priority_code.code if self.registration.priority_code else ""


@dataclass(frozen=True)
class Roster:
    confirmed: list[RosterLine]
    waitlist: list[RosterLine]  # in waitlist order
    checked_in: int
    entries: list[RosterLine] = dataclasses.field(default_factory=list)  # a draw's entries, not drawn yet


def _person(user: User | None) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def session_roster(*, session: Session) -> Roster:
    """Who holds a seat (in the order they got it), who waits (in waitlist order), who is in, and
    which priority code each used: one query."""
    registrations = (
        Registration.objects.filter(
            session=session, status__in=(Registration.Status.CONFIRMED, Registration.Status.WAITLISTED)
        )
        .select_related("fan", "priority_code", "checked_in_by")
        .order_by("waitlist_ticket", "created_at", "id")
    )
    confirmed: list[RosterLine] = []
    waitlist: list[RosterLine] = []
    for registration in registrations:
        line = RosterLine(registration, _person(registration.fan), _person(registration.checked_in_by))
        if registration.status == Registration.Status.CONFIRMED:
            confirmed.append(line)
        else:
            registration.keep_waitlist_position(len(waitlist) + 1)  # in ticket order: counted here
            waitlist.append(line)
    entries = [
        RosterLine(entry, _person(entry.fan), "")
        for entry in Registration.objects.filter(session=session, status=Registration.Status.ENTERED)
        .select_related("fan", "priority_code")
        .order_by("created_at", "id")
    ]
    return Roster(
        entries=entries,
        confirmed=confirmed,
        waitlist=waitlist,
        checked_in=sum(1 for c in confirmed if c.registration.checked_in_at is not None),
    )


@dataclass(frozen=True)
class SeatsNow:
    session: int
    status: str
    capacity: int
    confirmed_count: int
    waitlist_count: int
    waitlist_enabled: bool
    offered_count: int = 0

    @property
    def seats_left(self) -> int:
        """Seats neither confirmed nor held by an open offer."""
        return max(self.capacity - self.confirmed_count - self.offered_count, 0)

    def as_dict(self) -> dict:
        return {
            "session": self.session,
            "status": self.status,
            "capacity": self.capacity,
            "confirmed_count": self.confirmed_count,
            "waitlist_count": self.waitlist_count,
            "seats_left": self.seats_left,
            "waitlist_enabled": self.waitlist_enabled,
        }


SEATS_NOW_TTL_SECONDS = 1


def seats_now(*, session_id: int) -> SeatsNow | None:
    """A public session's seat figures now (one query by primary key); None for a draft or none."""
    row = (
        Session.objects.exclude(status=Session.Status.DRAFT)
        .filter(id=session_id)
        .values_list("status", "capacity", "confirmed_count", "waitlist_count", "waitlist_enabled", "offered_count")
        .first()
    )
    if row is None:
        return None
    return SeatsNow(session_id, *row)


def seats_now_key(session_id: int) -> str:
    return f"seats:{session_id}"


def seats_now_shared(*, session_id: int, cached: object = None) -> SeatsNow | None:
    """``seats_now`` at most a second old, one copy for every worker: what pages poll during a
    rush (thousands of fans asking every second cost one query a second, not one each).
    ``cached``: what the caller already read from the cache under ``seats_now_key``."""
    key = seats_now_key(session_id)
    hit = cached if cached is not None else cache.get(key)
    if isinstance(hit, SeatsNow):
        return hit
    figures = seats_now(session_id=session_id)
    if figures is not None:
        cache.set(key, figures, timeout=SEATS_NOW_TTL_SECONDS)
    return figures


@dataclass(frozen=True)
class FanPlace:
    """A fan's active registration on a session, as a page shows it, with the session's seat
    figures read in the same statement."""

    id: int
    session_id: int
    status: str
    waitlist_ticket: int | None
    capacity: int
    confirmed_count: int
    waitlist_count: int
    waitlist_enabled: bool
    offered_count: int
    party_size: int
    offer_expires_at: dt.datetime | None
    entry_ref: str | None
    waitlist_position: int | None = None


def with_waitlist_positions(registrations: list[Registration]) -> list[Registration]:
    """Give each waitlisted registration its position from its session's line (lines), for lists of
    a fan's registrations read with their sessions (``select_related``: one statement, so a ticket
    and its session's counters are of one moment). One read without its session is left to count."""
    for registration in registrations:
        if registration.waitlist_ticket is None or not Registration.session.is_cached(registration):
            continue
        session = registration.session
        position = lines.waitlist_position(
            session_id=session.id,
            ticket=registration.waitlist_ticket,
            waitlist_seq=session.waitlist_seq,
            waitlist_parties=session.waitlist_parties,
        )
        registration.keep_waitlist_position(position)
    return registrations


_FAN_PLACES_SQL = f"""
SELECT r.id, r.session_id, r.status, r.waitlist_ticket,
       s.capacity, s.confirmed_count, s.waitlist_count, s.waitlist_enabled, s.offered_count,
       r.party_size, r.offer_expires_at, r.entry_ref, s.waitlist_seq, s.waitlist_parties
FROM registrations_registration r JOIN events_session s ON s.id = r.session_id
WHERE r.fan_id = %s AND r.status IN ({", ".join(["%s"] * len(ACTIVE_STATUSES))})
"""  # noqa: S608 - placeholders only


def fan_places(*, fan_id: int, session_ids: list[int]) -> list[FanPlace]:
    """The fan's active registrations among these sessions: one small statement, prepared on
    PostgreSQL (pages call it on every request of a signed-in fan during a rush)."""
    if not session_ids:
        return []
    marks = ", ".join(["%s"] * len(session_ids))
    sql = f"{_FAN_PLACES_SQL} AND r.session_id IN ({marks})"  # noqa: S608 - placeholders only
    with prepared_cursor() as cursor:
        cursor.execute(sql, [fan_id, *ACTIVE_STATUSES, *session_ids])
        rows = cursor.fetchall()
    places = []
    for *place, waitlist_seq, waitlist_parties in rows:
        session_id, ticket = place[1], place[3]
        position = lines.waitlist_position(
            session_id=session_id, ticket=ticket, waitlist_seq=waitlist_seq, waitlist_parties=waitlist_parties
        )
        places.append(FanPlace(*(*place, position)))  # the row's columns are the fields, in order
    return places


_PLACE_AND_SEATS_SQL = f"""
SELECT s.id, s.status, s.capacity, s.confirmed_count, s.waitlist_count, s.waitlist_enabled, s.offered_count,
       r.id, r.status, r.waitlist_ticket, r.party_size, r.offer_expires_at, r.entry_ref,
       s.waitlist_seq, s.waitlist_parties
FROM events_session s LEFT JOIN registrations_registration r
  ON r.session_id = s.id AND r.fan_id = %s AND r.status IN ({", ".join(["%s"] * len(ACTIVE_STATUSES))})
WHERE s.id = %s
"""  # noqa: S608 - placeholders only


def fan_place_and_seats(*, fan_id: int, session_id: int) -> tuple[FanPlace | None, SeatsNow | None]:
    """The session's seat figures as of now and the fan's active registration on it, if any, in
    one prepared statement: a signed-in fan's session page needs no other read of the seats.
    (None, None) for no such session."""
    with prepared_cursor() as cursor:
        cursor.execute(_PLACE_AND_SEATS_SQL, [fan_id, *ACTIVE_STATUSES, session_id])
        row = cursor.fetchone()
    if row is None:
        return None, None
    seats = SeatsNow(*row[:7])
    registration_id, status_, ticket, party_size, offer_expires_at, entry_ref, waitlist_seq, waitlist_parties = row[7:]
    if registration_id is None:
        return None, seats
    place = FanPlace(
        id=registration_id,
        session_id=session_id,
        status=status_,
        waitlist_ticket=ticket,
        capacity=seats.capacity,
        confirmed_count=seats.confirmed_count,
        waitlist_count=seats.waitlist_count,
        waitlist_enabled=seats.waitlist_enabled,
        offered_count=seats.offered_count,
        party_size=party_size,
        offer_expires_at=offer_expires_at,
        entry_ref=entry_ref,
        waitlist_position=lines.waitlist_position(
            session_id=session_id, ticket=ticket, waitlist_seq=waitlist_seq, waitlist_parties=waitlist_parties
        ),
    )
    return place, seats


def draw_summary(*, session: Session) -> dict:
    """What anyone may know of a session's draw: its state, the seed's hash (the seed once drawn)."""
    from registrations import draw, draws
    from registrations.models import Draw

    record = Draw.objects.filter(session=session).first()
    now = timezone.now()
    opened = session.entry_opens_at is None or now >= session.entry_opens_at
    if record is None and session.allocation == Session.Allocation.DRAW and session.status == "published" and opened:
        record = draws.draw_for(session=session)  # the seed's hash is public from the entries' opening
    drawn = record is not None and record.drawn_at is not None
    return {
        "status": draws.draw_status(session, record, now),
        "entries": draws.entries_count(session=session),
        "seats": session.capacity,
        "seed_sha256": record.seed_sha256 if record else None,
        "seed": record.seed if drawn and record else None,
        "algorithm": record.algorithm if record else draw.ALGORITHM,
        "drawn_at": record.drawn_at if record else None,
        "entry_opens_at": session.entry_opens_at,
        "entry_closes_at": session.entry_closes_at,
        "draw_at": session.draw_at,
    }


def draw_order(*, session: Session) -> dict | None:
    """The drawn order of pseudonymous entry references, with each one's result (None before the
    draw). Recomputable from the seed (``tools/draw_recompute.py``)."""
    from registrations import draw
    from registrations.models import Draw

    record = Draw.objects.filter(session=session, drawn_at__isnull=False).first()
    if record is None:
        return None
    entries = list(
        Registration.objects.filter(session=session, entry_ref__isnull=False).only(
            "entry_ref", "entry_weight", "party_size", "status", "waitlist_ticket", "session_id"
        )
    )
    by_ref = {e.entry_ref: e for e in entries if e.entry_ref}
    order = draw.drawn_order(record.seed, ((ref, e.entry_weight) for ref, e in by_ref.items()))
    winners = set(record.winners)
    # Positions as the draw gave them: the losers in drawn order.
    positions = {ref: n for n, ref in enumerate((r for r in order if r not in winners), start=1)}
    return {
        "seed": record.seed,
        "seed_sha256": record.seed_sha256,
        "algorithm": record.algorithm,
        "drawn_at": record.drawn_at,
        "order": [
            {
                "entry_ref": ref,
                "weight": by_ref[ref].entry_weight,
                "party_size": by_ref[ref].party_size,
                "result": "confirmed" if ref in winners else "waitlisted",
                "waitlist_position": positions.get(ref),
            }
            for ref in order
        ],
    }
