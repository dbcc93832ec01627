"""Draw sessions: entries and the draw itself (services; the algorithm is ``registrations.draw``).

- Entries: during the entry window a fan with a verified email enters, alone or with companions,
  once per person (one entry per account, and per verified address), idempotently; the entry can be
  withdrawn (cancelled) and made again while the window is open. A priority code's ``weight`` gives
  the entry that weight, and its use is counted at entry.
- The draw runs once: by itself at ``draw_at`` (a job), or when an organizer asks after the entries
  closed; a second run is refused (409 ``already_drawn``). Winners are confirmed, everyone else is
  waitlisted in drawn order; ``hooks.draw_done`` tells them.
"""

import datetime as dt
import json
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext
from rest_framework import status

from accounts.models import User
from accounts.selectors import is_organizer_of
from events.models import Session
from project import hooks, jobs
from project.db import prepared_cursor
from project.errors import ApplicationError
from registrations import draw, waitlist
from registrations.models import Draw, PriorityCode, Registration, new_checkin_code

WRITE_BATCH = 2000


def _closed(message: str) -> ApplicationError:
    return ApplicationError(message, code="closed", status_code=status.HTTP_409_CONFLICT)


def draw_status(session: Session, record: Draw | None, now: dt.datetime) -> str:
    if record is not None and record.drawn_at is not None:
        return "drawn"
    if session.entry_opens_at is not None and now < session.entry_opens_at:
        return "upcoming"
    if session.entry_closes_at is not None and now >= session.entry_closes_at:
        return "closed"
    return "open"


def draw_for(*, session: Session) -> Draw:
    """The session's draw record, made (with its secret seed, whose hash is public from then on) the
    first time anyone asks: at the latest when the first entry is made. Making it plans the draw's
    job at ``draw_at``."""
    record = Draw.objects.filter(session=session).first()
    if record is not None:
        return record
    seed = draw.new_seed()
    try:
        with transaction.atomic():
            record = Draw.objects.create(
                session=session, seed=seed, seed_sha256=draw.seed_sha256(seed), algorithm=draw.ALGORITHM
            )
            _plan_draw_job(session)
    except IntegrityError:
        return Draw.objects.get(session=session)
    return record


def _plan_draw_job(session: Session) -> None:
    from registrations.tasks import run_draw

    due = session.draw_at or session.entry_closes_at
    if due is not None:
        jobs.enqueue(run_draw, session.id, run_after=due)


def _email_taken(*, session: Session, fan: User) -> bool:
    """Another account with the same verified address already holds an entry of this session.
    First the other accounts with that address (the ``user_email_lower`` index; nearly always
    none, and then that is all), then their registrations for the session (the unique (session,
    fan) index): the same cost at the first and the 100,000th entry. (One joined query let the
    planner walk the session's entries instead, under stale statistics, with every entry.)"""
    others = list(
        User.objects.annotate(address=Lower("email"))
        .filter(address=fan.email.lower(), email_verified_at__isnull=False)
        .exclude(id=fan.id)
        .values_list("id", flat=True)[:100]
    )
    if not others:
        return False
    return (
        Registration.objects.filter(session=session, fan_id__in=others)
        .exclude(status=Registration.Status.CANCELLED)
        .exists()
    )


def _check_entry(*, session: Session, record: Draw | None, fan: User, now: dt.datetime, party_size: int) -> None:
    if session.status != Session.Status.PUBLISHED or now >= session.starts_at:
        raise _closed(gettext("This session is not open for entries."))
    if draw_status(session, record, now) != "open":
        raise _closed(gettext("The draw's entry window is not open."))
    if not fan.email_verified:
        raise ApplicationError(
            gettext("Verify your email address to enter a draw: one person, one entry."),
            code="email_unverified",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    opened = session.entry_opens_at
    if not session.draw_new_accounts and opened is not None and fan.date_joined > opened:
        raise ApplicationError(
            gettext("This draw is open to accounts made before its entries opened."),
            code="account_too_new",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    if party_size > session.max_party_size:
        message = gettext("A party for this session is at most %(max)s people.") % {"max": session.max_party_size}
        raise ApplicationError(message, code="party_too_large", fields={"party_size": [message]})


# Entries share the session row (FOR SHARE): they do not wait for one another, but the draw and a
# withdrawal (FOR UPDATE) wait for every entry in progress, and an entry waits for them.
_SHARE_SESSION_SQL = "SELECT id FROM events_session WHERE id = %s FOR SHARE"
# One entry per verified address at a time: entries of accounts with the same address queue on this
# transaction-scoped lock (key: a constant for "draw entry", the address's hash) before the check.
_ADDRESS_LOCK = "pg_advisory_xact_lock(14, hashtext(lower(%s)))"
_LOCK_ADDRESS_SQL = f"SELECT {_ADDRESS_LOCK}"


# What an entry reads of the session (the whole row costs more CPU than the rest of the entry).
_ENTRY_FIELDS = ("id", "series_id", "status", "allocation", "starts_at", "max_party_size", "entry_opens_at",
                 "entry_closes_at", "draw_at", "draw_new_accounts")  # fmt: skip


def _entry_locks(*, session_id: int, fan: User) -> Session:
    """The locks an entry holds until its transaction ends (see above), and the session read under
    them. SQLite serializes write transactions by itself."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_SHARE_SESSION_SQL, [session_id])
            if fan.email:
                cursor.execute(_LOCK_ADDRESS_SQL, [fan.email])
        return Session.objects.only(*_ENTRY_FIELDS).get(id=session_id)
    return Session.objects.select_for_update().only(*_ENTRY_FIELDS).get(id=session_id)


# PostgreSQL's entry without a priority code, in two statements: the locks of ``_entry_locks``
# (the session row shared, the address's lock) with the session's window read from the locked row;
# then the entry inserted only if the draw's record exists and has not run, no other account with
# the same verified address holds an entry (those accounts first, from the ``user_email_lower``
# index: the plan cannot start from the session's entries), and the fan holds no registration for
# the session (ON CONFLICT through the unique (session, fan) index). Nothing inserted: the ORM path
# (``_entry_create``) tells the cases apart and makes the draw's record at the first entry.
_ENTRY_WINDOW_SQL = f"""
SELECT status, allocation, starts_at, entry_opens_at, entry_closes_at, max_party_size, draw_new_accounts,
       {_ADDRESS_LOCK}
FROM events_session WHERE id = %s FOR SHARE
"""  # noqa: S608 - a constant
_ENTER_SQL = """
WITH others AS MATERIALIZED (
    SELECT id FROM accounts_user
    WHERE lower(email) = lower(%s) AND email_verified_at IS NOT NULL AND id <> %s
)
INSERT INTO registrations_registration
    (session_id, fan_id, status, party_size, companions, entry_ref, entry_weight, checkin_code, created_at, updated_at)
SELECT %s, %s, %s, %s, %s::jsonb, %s, 1, %s, %s, %s
WHERE EXISTS (SELECT 1 FROM registrations_draw WHERE session_id = %s AND drawn_at IS NULL)
  AND NOT EXISTS (
    SELECT 1 FROM others JOIN registrations_registration theirs
      ON theirs.session_id = %s AND theirs.fan_id = others.id AND theirs.status <> %s
  )
ON CONFLICT (session_id, fan_id) DO NOTHING
RETURNING id
"""


def _open_for_entry(row: tuple, *, fan: User, now: dt.datetime, party_size: int) -> bool:
    status_, allocation, starts_at, opens, closes, max_party_size, new_accounts, _ = row
    return (
        status_ == Session.Status.PUBLISHED
        and allocation == Session.Allocation.DRAW
        and now < starts_at
        and (opens is None or opens <= now)
        and (closes is None or now < closes)
        and party_size <= max_party_size
        and fan.email_verified
        and (new_accounts or opens is None or fan.date_joined <= opens)
    )


def _enter_at_once(*, session_id: int, fan: User, party_size: int, companions: list[str]) -> Registration | None:
    """A first entry without a priority code on PostgreSQL (see ``_ENTER_SQL``): hand-written, as the
    registration's hot path, because the ORM's queries cost an entry most of its CPU. None: nothing
    entered (already entered, refused, or the draw's first entry)."""
    now = timezone.now()
    entry_ref, checkin_code = draw.new_entry_ref(), new_checkin_code()
    with transaction.atomic(), prepared_cursor() as cursor:
        cursor.execute(_ENTRY_WINDOW_SQL, [fan.email, session_id])
        row = cursor.fetchone()
        if row is None or not _open_for_entry(row, fan=fan, now=now, party_size=party_size):
            return None
        cursor.execute(
            _ENTER_SQL,
            [fan.email, fan.pk, session_id, fan.pk, Registration.Status.ENTERED, party_size, json.dumps(companions),
             entry_ref, checkin_code, now, now, session_id, session_id, Registration.Status.CANCELLED],
        )  # fmt: skip
        inserted = cursor.fetchone()
    if inserted is None:
        return None
    entry = Registration(
        id=inserted[0], session_id=session_id, fan=fan, status=Registration.Status.ENTERED, party_size=party_size,
        companions=companions, entry_ref=entry_ref, entry_weight=1, checkin_code=checkin_code, created_at=now,
        updated_at=now,
    )  # fmt: skip
    entry._state.adding = False
    entry._state.db = connection.alias
    return entry


def entry_create(
    *,
    session_id: int,
    fan: User,
    priority_code: str | None,
    party_size: int,
    companions: list[str],
) -> tuple[Registration, bool]:
    """Enter a draw (``(registration, created)``); an entry already made is returned as it is.
    On PostgreSQL a first entry without a priority code is tried in two statements first."""
    if connection.vendor == "postgresql" and not priority_code:
        entry = _enter_at_once(session_id=session_id, fan=fan, party_size=party_size, companions=companions)
        if entry is not None:
            return entry, True
    return _entry_create(
        session_id=session_id, fan=fan, priority_code=priority_code, party_size=party_size, companions=companions
    )


@transaction.atomic
def _entry_create(
    *,
    session_id: int,
    fan: User,
    priority_code: str | None,
    party_size: int,
    companions: list[str],
) -> tuple[Registration, bool]:
    """Enter a draw (``(registration, created)``); an entry already made is returned as it is.
    Entries run side by side (``_entry_locks``): one person, one entry holds through the fan's own
    registration row (locked, or the unique (session, fan) constraint for a first entry) and the
    address lock. A priority code's use is counted (as at registration) and the entry takes its weight."""
    from registrations.services import _priority_code_use

    session = _entry_locks(session_id=session_id, fan=fan)
    existing = Registration.objects.select_for_update().filter(session=session, fan=fan).first()
    if existing is not None and existing.status != Registration.Status.CANCELLED:
        return existing, False
    now = timezone.now()
    record = Draw.objects.filter(session=session).first()
    _check_entry(session=session, record=record, fan=fan, now=now, party_size=party_size)
    if _email_taken(session=session, fan=fan):
        raise ApplicationError(
            gettext("Someone with this email address has entered this draw already."),
            code="already_entered",
            status_code=status.HTTP_409_CONFLICT,
        )
    if record is None:
        draw_for(session=session)
    entry = existing or Registration(session=session, fan=fan)
    try:
        with transaction.atomic():
            code = None
            if priority_code:
                code = _priority_code_use(
                    code=priority_code, session_id=session.id, series_id=session.series_id, now=now
                )
            entry.status = Registration.Status.ENTERED
            entry.party_size = party_size
            entry.companions = companions
            entry.priority_code = code
            entry.entry_weight = PriorityCode.objects.get(id=code.id).weight if code is not None else 1
            entry.entry_ref = draw.new_entry_ref()
            entry.waitlist_ticket = None
            entry.offer_expires_at = None
            entry.cancelled_at = None
            entry.save()
    except IntegrityError:
        # The same fan's concurrent first entry won the unique (session, fan) constraint.
        return Registration.objects.get(session=session, fan=fan), False
    return entry, True


@dataclass(frozen=True)
class DrawResult:
    confirmed: int
    waitlisted: int


def _may_run(*, session: Session, by: User | None, now: dt.datetime) -> None:
    if by is not None and not is_organizer_of(user=by, organization_id=session.series.organization_id):
        raise ApplicationError(
            gettext("Only organizers of this session's organization may run its draw."),
            code="permission_denied",
            status_code=status.HTTP_403_FORBIDDEN,
        )
    if session.allocation != Session.Allocation.DRAW:
        raise _closed(gettext("This session gives its seats first come, first served."))
    if session.entry_closes_at is None or now < session.entry_closes_at:
        raise _closed(gettext("The draw runs once the entries have closed."))


@transaction.atomic
def draw_run(*, session_id: int, by: User | None = None) -> DrawResult:
    """Run the draw once (see the module's docstring). Holds the session row lock, so a draw, a late
    entry and a withdrawal cannot interleave, and a second run finds the first one's ``drawn_at``."""
    session = Session.objects.select_for_update().select_related("series").get(id=session_id)
    now = timezone.now()
    _may_run(session=session, by=by, now=now)
    record = draw_for(session=session)
    if record.drawn_at is not None:
        raise ApplicationError(gettext("This draw has already run."), code="already_drawn", status_code=409)
    entries = {
        e.entry_ref: e
        for e in Registration.objects.filter(session=session, status=Registration.Status.ENTERED).only(
            "id", "entry_ref", "entry_weight", "party_size", "status", "waitlist_ticket"
        )
    }
    order = draw.drawn_order(record.seed, ((ref, e.entry_weight) for ref, e in entries.items()))
    winners, waiting = _allocate(session, [entries[ref] for ref in order])
    _write_results(winners + waiting)
    waitlist.save_counters(session)
    record.drawn_at = now
    record.winners = [w.entry_ref for w in winners]
    record.save(update_fields=["drawn_at", "winners"])
    hooks.draw_done.send(session=session, registrations=winners + waiting)
    return DrawResult(confirmed=len(winners), waitlisted=len(waiting))


_RESULTS_SQL = """
UPDATE registrations_registration AS r
SET status = v.status, waitlist_ticket = v.ticket, updated_at = %s
FROM unnest(%s::bigint[], %s::text[], %s::bigint[]) AS v(id, status, ticket)
WHERE r.id = v.id
"""


def _write_results(entries: list[Registration]) -> None:
    """Every entry's result in one statement on PostgreSQL (arrays joined to the table: 100,000 rows
    in seconds, where per-row CASE expressions take minutes); elsewhere Django's bulk update."""
    if connection.vendor != "postgresql":
        Registration.objects.bulk_update(entries, ["status", "waitlist_ticket"], batch_size=WRITE_BATCH)
        return
    with connection.cursor() as cursor:
        cursor.execute(
            _RESULTS_SQL,
            [timezone.now(), [e.id for e in entries], [e.status for e in entries],
             [e.waitlist_ticket for e in entries]],
        )  # fmt: skip


def _allocate(session: Session, ordered: list[Registration]) -> tuple[list[Registration], list[Registration]]:
    """Walk the drawn order: an entry whose party fits the seats still free is confirmed, every
    other one waitlisted in drawn order (the waitlist's rule: the first party that fits)."""
    winners: list[Registration] = []
    waiting: list[Registration] = []
    free = waitlist.free_seats(session)
    for entry in ordered:
        if entry.party_size <= free:
            entry.status = Registration.Status.CONFIRMED
            free -= entry.party_size
            session.confirmed_count += entry.party_size
            winners.append(entry)
        else:
            entry.status = Registration.Status.WAITLISTED
            entry.waitlist_ticket = waitlist.next_ticket(session)
            session.waitlist_count += entry.party_size
            session.waitlist_parties += 1
            waiting.append(entry)
    return winners, waiting


def draw_run_when_due(*, session_id: int) -> bool:
    """The job at ``draw_at``: run the draw if it is due and has not run; a draw moved later plans
    itself again. Idempotent."""
    session = Session.objects.filter(id=session_id).first()
    if session is None or session.allocation != Session.Allocation.DRAW:
        return False
    if Draw.objects.filter(session=session, drawn_at__isnull=False).exists():
        return False
    due = session.draw_at or session.entry_closes_at
    if due is None or timezone.now() < due or session.status != Session.Status.PUBLISHED:
        if due is not None and session.status == Session.Status.PUBLISHED:
            _plan_draw_job(session)
        return False
    try:
        draw_run(session_id=session_id)
    except ApplicationError as exc:
        if exc.code == "already_drawn":
            return False
        raise
    return True


def entries_count(*, session: Session) -> int:
    return (
        Registration.objects.filter(session=session, entry_ref__isnull=False)
        .exclude(Q(status=Registration.Status.CANCELLED))
        .count()
    )
