"""Seats, waitlists, priority codes and check-in: the only code that changes
Session.confirmed_count / waitlist_count and PriorityCode.uses.

Locking rule (after pretix's): lock what becomes less available, once per transaction, as late as
possible, always the session row first. Every write to a session's registrations holds that
session's row lock (``select_for_update``, the conditional UPDATE, or the FOR NO KEY UPDATE of
PostgreSQL's one-statement registration; on SQLite the IMMEDIATE transaction is the lock), so the
counters, the waitlist positions and the one-registration-per-fan rule cannot race. The database
backs each rule with a constraint (confirmed_count <= capacity, one registration per fan and
session, unique waitlist positions on PostgreSQL, uses <= max_uses).
"""

import contextlib
import datetime as dt
import functools
import logging
import secrets
from collections.abc import Callable

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q, Subquery
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework import status
from rest_framework.authtoken.models import Token

from accounts.backends import ACTING_FIELDS, user_columns, user_from_row
from accounts.models import Organization, User
from accounts.selectors import is_organizer_of
from events.models import Series, Session
from events.selectors import sessions_visible_to
from project.db import prepared_cursor
from project.errors import ApplicationError
from registrations import draws, waitlist
from registrations.models import PriorityCode, Registration, checkin_code_candidates, new_checkin_code

logger = logging.getLogger(__name__)

# Codes people type: no 0/O, 1/I/L. 10 characters of 31 symbols are ~49 bits; guessing is throttled.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_LENGTH = 10
MAX_BATCH = 5000


def _closed(message: str) -> ApplicationError:
    return ApplicationError(message, code="closed", status_code=status.HTTP_409_CONFLICT)


def _invalid_code(message: str | None = None) -> ApplicationError:
    message = message or gettext("This priority code is not valid for this session.")
    return ApplicationError(message, code="invalid_code", fields={"priority_code": [message]})


def normalize_code(code: str) -> str:
    return code.strip().upper()


# --- Registration -------------------------------------------------------------------------------


def _not_found() -> ApplicationError:
    return ApplicationError(gettext("Not found."), code="not_found", status_code=status.HTTP_404_NOT_FOUND)


def _check_window(*, session: Session, now: dt.datetime, has_code: bool, fan: User) -> None:
    """The registration window. Before ``registration_opens_at`` only priority-code holders may
    register, and only from ``priority_opens_at`` on (no priority window set: nobody early).
    A draft is refused like a missing session to those who cannot see drafts."""
    if session.status == Session.Status.DRAFT and not sessions_visible_to(user=fan).filter(id=session.id).exists():
        raise _not_found()
    if session.status != Session.Status.PUBLISHED:
        raise _closed(gettext("This session is not open for registration."))
    if now >= session.starts_at:
        raise _closed(gettext("This session has already started."))
    if session.registration_closes_at is not None and now >= session.registration_closes_at:
        raise _closed(gettext("Registration for this session has closed."))
    if session.registration_opens_at is not None and now < session.registration_opens_at:
        priority_open = session.priority_opens_at is not None and now >= session.priority_opens_at
        if not priority_open:
            raise _closed(
                gettext("Registration for this session has not opened yet."),
            )
        if not has_code:
            raise _closed(gettext("Registration is open to priority-code holders only until it opens to everyone."))


def _priority_code_use(*, code: str, session_id: int, series_id: int, now: dt.datetime) -> PriorityCode:
    """Count one use of a code, atomically: the conditional UPDATE re-checks ``uses < max_uses`` on
    the current row (PostgreSQL re-evaluates it after waiting for a concurrent user of the same
    code), so two fans racing for the last use cannot both win.

    A code opens only sessions of its own organization: one for the session or its series, and
    owned by the organization the session's series belongs to (a code saved for another
    organization's session, however it got into the database, opens nothing)."""
    normalized = normalize_code(code)
    scope = Q(session_id=session_id) | Q(series_id=series_id)
    valid = Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    owner = Series.objects.filter(id=series_id).values("organization_id")[:1]
    found = (
        PriorityCode.objects.filter(scope, valid, code=normalized, organization_id=Subquery(owner)).only("id").first()
    )
    if found is None:
        raise _invalid_code()
    if not PriorityCode.objects.filter(id=found.id, uses__lt=F("max_uses")).update(uses=F("uses") + 1):
        raise _invalid_code(gettext("This priority code has been used up."))
    return found


_EXISTING_SQL = "SELECT * FROM registrations_registration WHERE session_id = %s AND fan_id = %s"


def _existing(*, session_id: int, fan: User) -> Registration | None:
    """The fan's registration for the session, if any: one hand-written indexed lookup (an ORM
    query costs more to compile than to run), asked on every repeated click of a rush."""
    return next(iter(Registration.objects.raw(_EXISTING_SQL, [session_id, fan.pk])), None)


# Whether a session row takes one more party of %(size)s now: first come, published, not started,
# inside the registration window (or, when the 5th value says a valid priority code came with the
# request, from priority_opens_at on), and enough free seats with nobody waiting, or a waitlist.
_OPEN_FOR_ONE_MORE = """
  status = %s
  AND allocation = 'first_come'
  AND starts_at > %s
  AND (registration_closes_at IS NULL OR registration_closes_at > %s)
  AND (registration_opens_at IS NULL OR registration_opens_at <= %s
       OR (%s AND priority_opens_at IS NOT NULL AND priority_opens_at <= %s))
  AND max_party_size >= %s
  AND ((confirmed_count + offered_count + %s <= capacity AND waitlist_count = 0) OR waitlist_enabled)
"""
_SEAT = "confirmed_count + offered_count + %s <= capacity AND waitlist_count = 0"

# One conditional UPDATE takes the place: it locks the session row (until COMMIT), re-checks the
# window and the seats on the row's current values, and counts the party in, either into seats
# (enough free seats and nobody waiting) or onto the waitlist with the next ticket. The CHECK
# constraint confirmed_count + offered_count <= capacity backs it. No row back: not open, or full
# without a waitlist. Seated iff the new waitlist_count is 0: the seat branch requires an empty
# waitlist and leaves it empty, the waitlist branch makes it at least the party's size.
_TAKE_PLACE_SQL = f"""
UPDATE events_session
SET confirmed_count = confirmed_count + CASE WHEN {_SEAT} THEN %s ELSE 0 END,
    waitlist_count = waitlist_count + CASE WHEN {_SEAT} THEN 0 ELSE %s END,
    waitlist_seq = waitlist_seq + CASE WHEN {_SEAT} THEN 0 ELSE 1 END,
    waitlist_parties = waitlist_parties + CASE WHEN {_SEAT} THEN 0 ELSE 1 END
WHERE id = %s AND {_OPEN_FOR_ONE_MORE}
RETURNING id, series_id, capacity, confirmed_count + offered_count, waitlist_count, waitlist_seq, waitlist_parties
"""  # noqa: S608 - built from this module's constants; every value is bound


# PostgreSQL's fast path for the common case (a party of one, no priority code, no cancelled
# registration to revive): one statement, run in autocommit, so that it is its own transaction and
# the session row is locked only from its first step to the end of its COMMIT, with no round trip
# and no Python (no GIL wait under a threaded server) in between.
#   1. place: lock the session row (FOR NO KEY UPDATE: under concurrency, its newest version, on
#      which the conditions are checked again) and read seat or waitlist ticket from it;
#   2. registration: INSERT the fan there, or nothing if the fan already holds a registration for
#      the session. ON CONFLICT finds that row through the unique (session, fan) index, committed
#      or not, whatever the table's statistics: a "NOT EXISTS" lookup in a prepared statement
#      could keep a plan made while the table was empty and scan the whole table on every
#      registration of a rush (seen in the benchmark);
#   3. counted: count the inserted fan into the locked row (only if one was inserted).
# No row back: the fan is already registered, or the session refuses them. The checkin_code is
# set for every row (the API shows it only when confirmed), like the model's default.
def _first_registration_sql(fan_cte: str = "") -> str:
    """``_FIRST_REGISTRATION_SQL``, with the fan's id as a value; or, given ``fan_cte`` (a CTE named
    ``fan`` with the fan's columns, see ``_first_registration_by_token_sql``), with the fan found by
    the statement itself: only an active fan takes a place, and the fan's columns come first in the
    row, with or without a place after them."""
    fan_is_active = " AND EXISTS (SELECT 1 FROM fan WHERE fan.is_active)" if fan_cte else ""
    fan_id, fan_from, fan_columns = ("fan.id", ", fan", "fan.*, ") if fan_cte else ("%s", "", "")
    registered = "fan LEFT JOIN (registration CROSS JOIN counted) ON TRUE" if fan_cte else "registration, counted"
    return f"""
WITH {fan_cte}place AS (
    SELECT id, waitlist_seq, confirmed_count + offered_count < capacity AND waitlist_count = 0 AS seat
    FROM events_session
    WHERE id = %s AND {_OPEN_FOR_ONE_MORE}{fan_is_active}
    FOR NO KEY UPDATE
),
registration AS (
    INSERT INTO registrations_registration
        (session_id, fan_id, status, waitlist_ticket, checkin_code, created_at, updated_at, party_size,
         companions, entry_weight)
    SELECT place.id, {fan_id}, CASE WHEN seat THEN %s ELSE %s END,
           CASE WHEN seat THEN NULL ELSE waitlist_seq + 1 END, %s, %s, %s, 1, '[]', 1
    FROM place{fan_from}
    ON CONFLICT (session_id, fan_id) DO NOTHING
    RETURNING id, status, waitlist_ticket
),
counted AS (
    UPDATE events_session
    SET confirmed_count = confirmed_count + CASE WHEN registration.waitlist_ticket IS NULL THEN 1 ELSE 0 END,
        waitlist_count = waitlist_count + CASE WHEN registration.waitlist_ticket IS NULL THEN 0 ELSE 1 END,
        waitlist_seq = COALESCE(registration.waitlist_ticket, waitlist_seq),
        waitlist_parties = waitlist_parties + CASE WHEN registration.waitlist_ticket IS NULL THEN 0 ELSE 1 END
    FROM registration
    WHERE events_session.id = %s
    RETURNING events_session.capacity, events_session.confirmed_count + events_session.offered_count AS taken,
              events_session.waitlist_parties
)
SELECT {fan_columns}registration.id, registration.status, registration.waitlist_ticket, counted.capacity,
       counted.taken, CASE WHEN registration.waitlist_ticket IS NULL THEN NULL ELSE counted.waitlist_parties END
FROM {registered}
"""  # noqa: S608 - built from this module's constants; every value is bound


_FIRST_REGISTRATION_SQL = _first_registration_sql()


class _DrawSession(Exception):
    """The session gives its seats by a draw: the request is an entry (``registrations.draws``)."""


class _Revived(Exception):
    """The same fan's concurrent request revived the cancelled registration first."""

    def __init__(self, registration: Registration) -> None:
        self.registration = registration


def _party_too_large(session: Session) -> ApplicationError:
    message = gettext("A party for this session is at most %(max)s people.") % {"max": session.max_party_size}
    return ApplicationError(message, code="party_too_large", fields={"party_size": [message]})


_ALLOCATION_SQL = "SELECT allocation, status FROM events_session WHERE id = %s"
# What telling a refusal apart reads of the session (the whole row costs a draw entry more CPU).
_REFUSAL_FIELDS = ("id", "series_id", "status", "allocation", "starts_at", "registration_opens_at",
                   "registration_closes_at", "priority_opens_at", "max_party_size")  # fmt: skip


def _refusal(*, session_id: int, fan: User, now: dt.datetime, has_code: bool, party_size: int = 1) -> ApplicationError:
    """Why the conditional UPDATE found no row: missing, outside the window, a draw, too large, or full.
    A draw session is told first, from two columns (a draw's every entry comes this way)."""
    with prepared_cursor() as cursor:
        cursor.execute(_ALLOCATION_SQL, [session_id])
        found = cursor.fetchone()
    if found is not None and found == (Session.Allocation.DRAW, Session.Status.PUBLISHED):
        raise _DrawSession()
    session = Session.objects.filter(id=session_id).only(*_REFUSAL_FIELDS).first()
    if session is None:
        return _not_found()
    visible = session.status != Session.Status.DRAFT or sessions_visible_to(user=fan).filter(id=session.id).exists()
    if session.allocation == Session.Allocation.DRAW and visible:
        raise _DrawSession()
    try:
        _check_window(session=session, now=now, has_code=has_code, fan=fan)
    except ApplicationError as exc:
        return exc
    if party_size > session.max_party_size:
        return _party_too_large(session)
    return ApplicationError(gettext("This session is full."), code="full", status_code=status.HTTP_409_CONFLICT)


def _place_params(*, party_size: int, session_id: int, now, has_code: bool) -> list:
    window = [Session.Status.PUBLISHED, now, now, now, has_code, now, party_size, party_size]
    return [party_size] * 6 + [session_id, *window]


@transaction.atomic(durable=True)
def _register(
    *,
    session_id: int,
    fan: User,
    priority_code: str | None,
    cancelled: Registration | None = None,
    party_size: int = 1,
    companions: list[str] | None = None,
) -> Registration:
    """Take seats or a waitlist place for a party. ``cancelled``: the fan's own cancelled
    registration, which is revived (one row per fan and session) instead of inserting a new one."""
    now = timezone.now()
    at = connection.ops.adapt_datetimefield_value(now)
    has_code = bool(priority_code)
    with connection.cursor() as cursor:
        cursor.execute(_TAKE_PLACE_SQL, _place_params(party_size=party_size, session_id=session_id, now=at,
                                                      has_code=has_code))  # fmt: skip
        row = cursor.fetchone()
    if row is None:
        raise _refusal(session_id=session_id, fan=fan, now=now, has_code=has_code, party_size=party_size)
    _, series_id, capacity, taken, waitlist_count, waitlist_seq, waitlist_parties = row
    # The session row is locked from here on.
    if cancelled is not None:
        cancelled = Registration.objects.get(id=cancelled.id)
        if cancelled.status != Registration.Status.CANCELLED:
            raise _Revived(cancelled)  # rolls the counters back
    code = None
    if priority_code:
        code = _priority_code_use(code=priority_code, session_id=session_id, series_id=series_id, now=now)
    registration = cancelled or Registration(session_id=session_id, fan=fan)
    registration.priority_code = code
    registration.party_size = party_size
    registration.companions = companions or []
    registration.offer_expires_at = None
    registration.forget_waitlist_position()
    if waitlist_count == 0:
        registration.status = Registration.Status.CONFIRMED
        registration.waitlist_ticket = None
    else:
        registration.status = Registration.Status.WAITLISTED
        registration.waitlist_ticket = waitlist_seq
        registration.keep_waitlist_position(waitlist_parties)  # the last party waiting
    if cancelled is None:
        registration.save(force_insert=True)
    else:
        registration.cancelled_at = None
        registration.checkin_code = new_checkin_code()  # the old ticket stays void
        registration.save(
            update_fields=["status", "waitlist_ticket", "priority_code", "cancelled_at", "checkin_code", "updated_at",
                           "party_size", "companions", "offer_expires_at"]
        )  # fmt: skip
    if registration.status == Registration.Status.WAITLISTED and taken < capacity:
        _serve_waitlist_if_seats_are_free(session_id=session_id, registration=registration, now=now)
    return registration


def _serve_waitlist_if_seats_are_free(*, session_id: int, registration: Registration, now: dt.datetime) -> None:
    """A party just joined the waitlist while seats may be free (freed without a fill, or held for
    parties that do not fit, or free after the offer cutoff). Call holding the session row lock."""
    session = Session.objects.get(id=session_id)
    if waitlist.free_seats(session) <= 0:
        return
    if waitlist.offers_stopped(session, now):
        _claim_free_seats(session=session, registration=registration)
    else:
        waitlist.fill(session=session, now=now)
    registration.refresh_from_db(fields=["status", "waitlist_ticket", "offer_expires_at", "updated_at"])
    registration.forget_waitlist_position()


def _claim_free_seats(*, session: Session, registration: Registration) -> bool:
    """After the offer cutoff a free seat goes to whoever asks: this waitlisted party, if it fits."""
    if registration.status != Registration.Status.WAITLISTED or waitlist.free_seats(session) < registration.party_size:
        return False
    session.waitlist_count -= registration.party_size
    session.waitlist_parties = max(session.waitlist_parties - 1, 0)
    session.confirmed_count += registration.party_size
    registration.status = Registration.Status.CONFIRMED
    registration.waitlist_ticket = None
    registration.forget_waitlist_position()
    registration.save(update_fields=["status", "waitlist_ticket", "updated_at"])
    waitlist.save_counters(session)
    return True


def _first_registration_params(*, session_id: int, fan_id: int | None, now: dt.datetime, checkin_code: str) -> list:
    """The values of ``_FIRST_REGISTRATION_SQL``'s placeholders, in order (without the fan's id
    when ``fan_id`` is None: the statement finds the fan itself)."""
    window = [Session.Status.PUBLISHED, now, now, now, False, now, 1, 1]  # _OPEN_FOR_ONE_MORE, no code
    statuses = [Registration.Status.CONFIRMED, Registration.Status.WAITLISTED]
    fan = [] if fan_id is None else [fan_id]
    return [session_id, *window, *fan, *statuses, checkin_code, now, now, session_id]


@functools.cache
def _registration_attnames() -> list[str]:
    return [field.attname for field in Registration._meta.concrete_fields]


def _new_registration_row(
    *,
    registration_id: int,
    session_id: int,
    fan: User,
    status: str,
    waitlist_ticket: int | None,
    checkin_code: str,
    now: dt.datetime,
) -> Registration:
    """The row ``_FIRST_REGISTRATION_SQL`` inserted, as Django would load it: every column in the
    model's order (``from_db`` then builds it positionally: 24 µs here against 34 µs from keyword
    arguments, on every registration of a rush), the fan already in hand."""
    values = {
        "id": registration_id, "session_id": session_id, "fan_id": fan.pk, "status": status,
        "waitlist_ticket": waitlist_ticket, "party_size": 1, "companions": [], "offer_expires_at": None,
        "entry_ref": None, "entry_weight": 1,
        "checkin_code": checkin_code, "checked_in_at": None, "checked_in_by_id": None, "priority_code_id": None,
        "created_at": now, "updated_at": now, "cancelled_at": None,
    }  # fmt: skip
    names = _registration_attnames()
    registration = Registration.from_db(connection.alias, names, [values[name] for name in names])
    Registration.fan.field.set_cached_value(registration, fan)
    return registration


def _register_first_time(*, session_id: int, fan: User) -> Registration | None:
    """``_register`` for a fan alone, with no registration for the session and no priority code,
    on PostgreSQL: one statement in autocommit (see ``_FIRST_REGISTRATION_SQL``), so a session's
    registrations queue on its row lock only for that statement and its COMMIT. None: no place
    taken, because the fan is already registered or the session refuses them."""
    now = timezone.now()
    checkin_code = new_checkin_code()
    params = _first_registration_params(session_id=session_id, fan_id=fan.pk, now=now, checkin_code=checkin_code)
    row = _first_registration_row(_FIRST_REGISTRATION_SQL, params)
    if row is None:
        return None
    return _first_registration(row, session_id=session_id, fan=fan, checkin_code=checkin_code, now=now)


@functools.cache
def _first_registration_by_token_sql() -> str:
    """``_FIRST_REGISTRATION_SQL`` for the fan whose API token is the first value (their
    ``ACTING_FIELDS`` first in the row)."""
    quote = connection.ops.quote_name
    return _first_registration_sql(
        f"fan AS (SELECT {user_columns(ACTING_FIELDS)} FROM {quote(User._meta.db_table)} u "  # noqa: S608 - names from the models, key bound
        f"JOIN {quote(Token._meta.db_table)} t ON t.user_id = u.id WHERE t.key = %s),\n"
    )


def registration_first_time_by_token(*, session_id: int, token_key: str) -> tuple[User, Registration | None] | None:
    """``_register_first_time`` for the fan whose API token ``token_key`` is, found by the same
    statement: a rush's registration in one round trip (``registrations.rush``). None: no such
    token. ``(fan, None)``: no place taken (the fan is inactive, already registered, or refused);
    whoever asked tells those apart the usual way. PostgreSQL only."""
    now = timezone.now()
    checkin_code = new_checkin_code()
    params = [token_key, *_first_registration_params(session_id=session_id, fan_id=None, now=now,
                                                     checkin_code=checkin_code)]  # fmt: skip
    row = _first_registration_row(_first_registration_by_token_sql(), params)
    if row is None:
        return None
    width = len(ACTING_FIELDS)
    fan = user_from_row(row[:width], ACTING_FIELDS)
    if row[width] is None:
        return fan, None
    return fan, _first_registration(row[width:], session_id=session_id, fan=fan, checkin_code=checkin_code, now=now)


def _first_registration_row(sql: str, params: list) -> tuple | None:
    # Inside a caller's transaction the statement would hold the lock until that transaction ends:
    # refused like ``_register``'s durable transaction (in a test's transaction: a savepoint).
    in_transaction = connection.in_atomic_block
    with transaction.atomic(durable=True) if in_transaction else contextlib.nullcontext():
        with prepared_cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()


def _first_registration(row: tuple, *, session_id: int, fan: User, checkin_code: str, now: dt.datetime) -> Registration:
    """The registration a first-registration statement made, from its row; seats that are free
    while people wait are settled (see ``_serve_waitlist_if_seats_are_free``)."""
    registration_id, status_, waitlist_ticket, capacity, taken, position = row
    registration = _new_registration_row(
        registration_id=registration_id, session_id=session_id, fan=fan, status=status_,
        waitlist_ticket=waitlist_ticket, checkin_code=checkin_code, now=now,
    )  # fmt: skip
    registration.keep_waitlist_position(position)  # the last party waiting
    if status_ == Registration.Status.WAITLISTED and taken < capacity:
        # Seats may be free while people wait (see _serve_waitlist_if_seats_are_free): settled
        # under the session's lock in a transaction of its own.
        with transaction.atomic(durable=True):
            Session.objects.select_for_update().only("id").get(id=session_id)
            _serve_waitlist_if_seats_are_free(session_id=session_id, registration=registration, now=now)
    return registration


def _checked_party(*, party_size: int | None, companions: list[str] | None) -> tuple[int, list[str]]:
    companions = [c.strip() for c in companions or [] if c and c.strip()]
    size = party_size if party_size is not None else 1 + len(companions)
    if size < 1:
        message = gettext("A party is at least one person.")
        raise ApplicationError(message, fields={"party_size": [message]})
    if len(companions) > size - 1:
        message = gettext("Name at most %(n)s companions for a party of %(size)s.") % {"n": size - 1, "size": size}
        raise ApplicationError(message, fields={"companions": [message]})
    return size, companions


def registration_get_or_create(
    *,
    session_id: int,
    fan: User,
    priority_code: str | None = None,
    party_size: int | None = None,
    companions: list[str] | None = None,
) -> tuple[Registration, bool]:
    """Register ``fan`` (and companions: ``party_size`` people in all, up to the session's
    ``max_party_size``) for a session; ``(registration, created)`` like ``get_or_create``.

    A fan who is already registered (or waitlisted) gets that registration back and never a second
    seat; after the offer cutoff, a waitlisted fan asking again takes free seats that fit. A fan who
    cancelled may register again: the same row is revived at the end of the queue with a new
    check-in code. The hot path takes an id: the view does not read the row that the service is
    about to lock. On PostgreSQL a lone fan's first registration without a code is tried first, in
    one statement; the other cases are told apart only when it takes no place.
    """
    size, companions = _checked_party(party_size=party_size, companions=companions)
    try:
        first_time_tried = not priority_code and size == 1 and connection.vendor == "postgresql"
        if first_time_tried:
            registration = _register_first_time(session_id=session_id, fan=fan)
            if registration is not None:
                return registration, True
        existing = _existing(session_id=session_id, fan=fan)
        if existing is not None and existing.status != Registration.Status.CANCELLED:
            return _claim_if_offers_stopped(existing), False
        if existing is None and first_time_tried:
            raise _refusal(session_id=session_id, fan=fan, now=timezone.now(), has_code=False)
        registration = _register(
            session_id=session_id, fan=fan, priority_code=priority_code or None, cancelled=existing,
            party_size=size, companions=companions,
        )  # fmt: skip
        return registration, True
    except _DrawSession:
        return draws.entry_create(
            session_id=session_id, fan=fan, priority_code=priority_code or None, party_size=size, companions=companions
        )
    except _Revived as revived:
        return revived.registration, False
    except IntegrityError:
        # The same fan's concurrent request won the unique (session, fan) constraint; the whole
        # transaction (seat and code use included) was rolled back.
        existing = _existing(session_id=session_id, fan=fan)
        if existing is None:
            raise
        return existing, False


def _claim_if_offers_stopped(registration: Registration) -> Registration:
    """A waitlisted fan asking again after the offer cutoff takes free seats that fit."""
    if registration.status != Registration.Status.WAITLISTED:
        return registration
    with transaction.atomic(durable=not connection.in_atomic_block):
        session = Session.objects.select_for_update().get(id=registration.session_id)
        if not waitlist.offers_stopped(session, timezone.now()):
            return registration
        fresh = Registration.objects.get(id=registration.id)
        _claim_free_seats(session=session, registration=fresh)
        return fresh


def registration_create(
    *, session: Session, fan: User, priority_code: str | None = None, party_size: int | None = None
) -> Registration:
    """Register ``fan`` (idempotent: an existing registration is returned as it is)."""
    registration, _ = registration_get_or_create(
        session_id=session.id, fan=fan, priority_code=priority_code, party_size=party_size
    )
    return registration


def _locked(registration: Registration) -> tuple[Session, Registration]:
    """The session row locked, and the registration fresh under that lock."""
    session = Session.objects.select_for_update().get(id=registration.session_id)
    return session, Registration.objects.get(id=registration.id)


@transaction.atomic(durable=True)
def registration_cancel(*, registration: Registration) -> Registration:
    """Cancel a registration (a confirmed seat, a waitlist place, an offer or a draw entry). Freed
    seats go to the waitlist in the same transaction; leaving the waitlist renumbers nobody (the
    positions are counted when read). Cancelling twice is a no-op."""
    session, registration = _locked(registration)
    if registration.status == Registration.Status.CANCELLED:
        return registration
    if registration.checked_in_at is not None:
        raise ApplicationError(
            gettext("This fan has already been checked in."),
            code="already_checked_in",
            status_code=status.HTTP_409_CONFLICT,
        )
    if timezone.now() >= session.starts_at:
        raise _closed(gettext("This session has already started; it can no longer be cancelled."))
    waitlist.release(session=session, party=registration, people=registration.party_size, whole=True)
    if registration.status == Registration.Status.ENTERED:
        registration.entry_ref = None  # a withdrawn entry is not drawn (entering again: a new reference)
    registration.status = Registration.Status.CANCELLED
    registration.waitlist_ticket = None
    registration.offer_expires_at = None
    registration.cancelled_at = timezone.now()
    registration.forget_waitlist_position()
    registration.save(
        update_fields=["status", "waitlist_ticket", "offer_expires_at", "cancelled_at", "updated_at", "entry_ref"]
    )
    _fill_and_save_counters(session)
    return registration


@transaction.atomic(durable=True)
def registration_reduce_party(*, registration: Registration, party_size: int) -> Registration:
    """Make a party smaller (never larger: that would jump the queue); the freed seats go to the
    waitlist at once. A waitlisted party keeps its place."""
    session, registration = _locked(registration)
    if registration.status == Registration.Status.CANCELLED:
        raise ApplicationError(gettext("This registration was cancelled."), code="cancelled", status_code=409)
    if not 1 <= party_size <= registration.party_size:
        message = gettext("A party can only get smaller: from 1 to %(size)s.") % {"size": registration.party_size}
        raise ApplicationError(message, code="party_too_large", fields={"party_size": [message]})
    freed = registration.party_size - party_size
    if freed:
        waitlist.release(session=session, party=registration, people=freed, whole=False)
        registration.party_size = party_size
        registration.companions = registration.companions[: party_size - 1]
        registration.save(update_fields=["party_size", "companions", "updated_at"])
        _fill_and_save_counters(session)
    return registration


def _fill_and_save_counters(session: Session) -> None:
    """Freed seats go to the waitlist, and the counters are written once (``fill`` writes them when it
    serves anyone): one statement less while the session's row is locked."""
    if not waitlist.fill(session=session):
        waitlist.save_counters(session)


def _offer_expired() -> ApplicationError:
    return ApplicationError(gettext("This offer has expired or was withdrawn."), code="offer_expired", status_code=409)


@transaction.atomic(durable=True)
def offer_accept(*, registration: Registration) -> Registration:
    """Take the offered seats. Races an expiry fairly: both hold the session lock, and an offer past
    its deadline is expired whoever comes first."""
    session, registration = _locked(registration)
    if registration.status == Registration.Status.CONFIRMED:
        return registration  # a second click
    deadline = registration.offer_expires_at
    if registration.status != Registration.Status.OFFERED or deadline is None or timezone.now() >= deadline:
        raise _offer_expired()
    session.offered_count -= registration.party_size
    session.confirmed_count += registration.party_size
    registration.status = Registration.Status.CONFIRMED
    registration.offer_expires_at = None
    registration.save(update_fields=["status", "offer_expires_at", "updated_at"])
    waitlist.save_counters(session)
    return registration


@transaction.atomic(durable=True)
def offer_decline(*, registration: Registration) -> Registration:
    """Say no to an offer: the registration is cancelled and the seats are offered on."""
    session, registration = _locked(registration)
    if registration.status == Registration.Status.CANCELLED:
        return registration
    if registration.status != Registration.Status.OFFERED:
        raise _offer_expired()
    return _end_offer(session=session, registration=registration)


def _end_offer(*, session: Session, registration: Registration) -> Registration:
    waitlist.release(session=session, party=registration, people=registration.party_size, whole=True)
    registration.status = Registration.Status.CANCELLED
    registration.offer_expires_at = None
    registration.cancelled_at = timezone.now()
    registration.save(update_fields=["status", "offer_expires_at", "cancelled_at", "updated_at"])
    _fill_and_save_counters(session)
    return registration


@transaction.atomic(durable=True)
def offer_expire(*, registration_id: int) -> bool:
    """The job at an offer's deadline: an offer still open then is withdrawn (the registration is
    cancelled) and the seats pass on. Idempotent: an answered offer is left alone."""
    registration = Registration.objects.filter(id=registration_id).first()
    if registration is None:
        return False
    session, registration = _locked(registration)
    deadline = registration.offer_expires_at
    if registration.status != Registration.Status.OFFERED or deadline is None or timezone.now() < deadline:
        return False
    _end_offer(session=session, registration=registration)
    return True


@transaction.atomic
def waitlist_fill(*, session: Session) -> list[Registration]:
    """Give free seats to the waitlist (``registrations.waitlist.fill``: confirmed at once, or
    offered when the session holds offers). Call holding the session row lock with ``session``
    fresh from it; ``hooks.seats_given`` / ``hooks.seats_offered`` announce who got what."""
    return waitlist.fill(session=session)


# --- Check-in -----------------------------------------------------------------------------------


def can_check_in(*, user: User, session: Session) -> bool:
    """The session's hosts and its organization's organizers run the door."""
    if not user.is_authenticated:
        return False
    if is_organizer_of(user=user, organization_id=session.series.organization_id):
        return True
    return session.hosts.filter(id=user.id).exists()


def _door_refusal(registration: Registration) -> ApplicationError:
    if registration.checked_in_at is not None:
        by = registration.checked_in_by
        return ApplicationError(
            gettext("This fan has already been checked in."),
            code="already_checked_in",
            status_code=status.HTTP_409_CONFLICT,
            extra={
                "checked_in_at": registration.checked_in_at.isoformat(),
                "checked_in_by": by.pk if by else None,
                "checked_in_by_name": (by.get_full_name() or by.username) if by else None,
            },
        )
    if registration.status == Registration.Status.CANCELLED:
        return ApplicationError(
            gettext("This registration was cancelled: no seat."),
            code="cancelled",
            status_code=status.HTTP_409_CONFLICT,
        )
    return ApplicationError(
        gettext("This registration is %(status)s, not confirmed.") % {"status": registration.get_status_display()},
        code="not_confirmed",
        status_code=status.HTTP_409_CONFLICT,
    )


@transaction.atomic
def registration_check_in(*, session: Session, checkin_code: str, by: User) -> Registration:
    """Check a fan in by a typed or scanned code (short or old long form, see
    ``checkin_code_candidates``). The conditional UPDATE makes two scanners at once safe: exactly one
    of them records the check-in, the other is told it already happened, when and by whom."""
    registration = (
        Registration.objects.filter(checkin_code__in=checkin_code_candidates(checkin_code))
        .select_related("fan")
        .first()
    )
    if registration is None:
        raise ApplicationError(
            gettext("No registration has this check-in code."),
            code="not_found",
            status_code=status.HTTP_404_NOT_FOUND,
            fields={"checkin_code": [gettext("Unknown check-in code.")]},
        )
    if registration.session_id != session.id:
        raise ApplicationError(
            gettext("This check-in code is for another session."),
            code="not_for_this_session",
            status_code=status.HTTP_404_NOT_FOUND,
            fields={"checkin_code": [gettext("This check-in code is for another session.")]},
        )
    now = timezone.now()
    updated = Registration.objects.filter(
        id=registration.id, status=Registration.Status.CONFIRMED, checked_in_at__isnull=True
    ).update(checked_in_at=now, checked_in_by=by, updated_at=now)
    registration.refresh_from_db(fields=["status", "checked_in_at", "checked_in_by", "updated_at"])
    if updated:
        return registration
    raise _door_refusal(registration)


# --- Priority codes -----------------------------------------------------------------------------


def generate_code(prefix: str = "") -> str:
    return prefix + "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def _code_target(*, series: Series | None, session: Session | None) -> Organization:
    if (series is None) == (session is None):
        raise ApplicationError(
            gettext("A priority code is for either a series or a session."),
            fields={"series": [gettext("Give a series or a session, not both.")]},
        )
    return series.organization if series is not None else session.series.organization  # type: ignore[union-attr]


def _check_organizer(*, user: User, organization: Organization) -> None:
    if not is_organizer_of(user=user, organization_id=organization.id):
        raise ApplicationError(
            gettext("Only organizers of this series may manage its priority codes."),
            code="permission_denied",
            status_code=status.HTTP_403_FORBIDDEN,
        )


@transaction.atomic
def priority_code_create(
    *,
    by: User,
    series: Series | None = None,
    session: Session | None = None,
    code: str | None = None,
    max_uses: int = 1,
    expires_at: dt.datetime | None = None,
    batch: str = "",
    weight: int = 1,
) -> PriorityCode:
    organization = _code_target(series=series, session=session)
    _check_organizer(user=by, organization=organization)
    value = normalize_code(code) if code else generate_code()
    if not value or any(ch.isspace() for ch in value):
        raise ApplicationError(
            gettext("A code cannot contain spaces."), fields={"code": [gettext("A code cannot contain spaces.")]}
        )
    if PriorityCode.objects.filter(code=value).exists():
        raise ApplicationError(
            gettext("That code already exists."),
            code="code_taken",
            fields={"code": [gettext("That code already exists.")]},
        )
    try:
        with transaction.atomic():
            new_code = _new_code(organization=organization, series=series, session=session, max_uses=max_uses,
                                 expires_at=expires_at, batch=batch, weight=weight)  # fmt: skip
            priority_code = new_code(value)
            priority_code.save(force_insert=True)
            return priority_code
    except IntegrityError as exc:
        raise ApplicationError(
            gettext("That code already exists."),
            code="code_taken",
            fields={"code": [gettext("That code already exists.")]},
        ) from exc


def _new_code(**fields) -> Callable[[str], PriorityCode]:
    """Unsaved codes sharing everything but the code itself (single and batch creation alike)."""
    return lambda value: PriorityCode(code=value, **fields)


@transaction.atomic
def priority_code_batch_create(
    *,
    by: User,
    count: int,
    series: Series | None = None,
    session: Session | None = None,
    max_uses: int = 1,
    expires_at: dt.datetime | None = None,
    prefix: str = "",
    batch: str = "",
    weight: int = 1,
) -> list[PriorityCode]:
    """Many random codes at once, all in one batch name (for the CSV export). All or nothing."""
    organization = _code_target(series=series, session=session)
    _check_organizer(user=by, organization=organization)
    if not 1 <= count <= MAX_BATCH:
        raise ApplicationError(
            gettext("Between 1 and %(max_batch)s codes per batch.") % {"max_batch": MAX_BATCH},
            fields={"count": [gettext("Out of range.")]},
        )
    prefix = normalize_code(prefix)
    batch = batch or f"batch-{timezone.now():%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"
    for _attempt in range(3):  # a collision with an existing code is ~impossible; retry, bounded
        values = {generate_code(prefix) for _ in range(count)}
        while len(values) < count:
            values.add(generate_code(prefix))
        if PriorityCode.objects.filter(code__in=values).exists():
            continue
        new_code = _new_code(organization=organization, series=series, session=session, max_uses=max_uses,
                             expires_at=expires_at, batch=batch, weight=weight)  # fmt: skip
        codes = [new_code(value) for value in sorted(values)]
        return PriorityCode.objects.bulk_create(codes, batch_size=500)
    raise ApplicationError(gettext("Could not generate unique codes; try again."), code="try_again")


@transaction.atomic
def priority_code_update(
    *, code: PriorityCode, by: User, max_uses: int | None = None, expires_at: dt.datetime | None | object = ...
) -> PriorityCode:
    _check_organizer(user=by, organization=code.organization)
    code = PriorityCode.objects.select_for_update().get(id=code.id)
    fields = []
    if max_uses is not None:
        if max_uses < code.uses:
            raise ApplicationError(
                gettext("This code has been used %(uses)s times already; max_uses cannot go below that.")
                % {"uses": code.uses},
                fields={"max_uses": [gettext("At least %(uses)s.") % {"uses": code.uses}]},
            )
        code.max_uses = max_uses
        fields.append("max_uses")
    if expires_at is not ...:
        code.expires_at = expires_at  # type: ignore[assignment]
        fields.append("expires_at")
    if fields:
        code.save(update_fields=fields)
    return code


@transaction.atomic
def priority_code_delete(*, code: PriorityCode, by: User) -> None:
    """Registrations made with the code keep their seats (the reference is set to NULL)."""
    _check_organizer(user=by, organization=code.organization)
    code.delete()
