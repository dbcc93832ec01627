"""Who gets a freed seat: the waitlist's rules (README, "Fair access"), for registrations.services.

Every function here is called while holding the session row lock (``select_for_update``), with
``session`` fresh from it, inside the caller's transaction; none takes a lock of its own.

- Seats are counted by people: a party of three takes three seats, waits as three people.
- The waitlist is served in ticket order, and the first waitlisted party that fits the free seats is
  served; a party that does not fit keeps its place (and is served first once enough seats are free).
- With ``offer_hold_minutes`` set, a freed seat is offered (status ``offered``) instead of confirmed:
  the party has until ``offer_expires_at`` to accept; seats held by open offers are not free. The hold
  shrinks as the start nears (never more than a third of the time left, never under 15 minutes),
  and ``offer_cutoff_minutes`` before the start offers stop: from then on a free seat goes to
  whoever asks for it (a new registration, or a waitlisted fan registering again).
- Without a hold, a freed seat confirms the first party that fits at once, as before.
"""

import datetime as dt

from django.db.models import Sum
from django.utils import timezone

from events.models import Session
from project import hooks, jobs
from registrations.models import Registration

MIN_HOLD = dt.timedelta(minutes=15)


def free_seats(session: Session) -> int:
    """Seats neither confirmed nor held by an open offer (people)."""
    return session.capacity - session.confirmed_count - session.offered_count


def offers_stopped(session: Session, now: dt.datetime) -> bool:
    """Offers are made only with a hold set and until ``offer_cutoff_minutes`` before the start."""
    if not session.offer_hold_minutes:
        return False
    return now >= session.starts_at - dt.timedelta(minutes=session.offer_cutoff_minutes)


def offer_hold(session: Session, now: dt.datetime) -> dt.timedelta:
    """How long a party has to answer an offer made now: the session's hold, but never more than a
    third of the time left before the start, and never under 15 minutes."""
    hold = dt.timedelta(minutes=session.offer_hold_minutes)
    third_of_time_left = (session.starts_at - now) / 3
    return max(min(hold, third_of_time_left), MIN_HOLD)


def next_ticket(session: Session) -> int:
    """Take the session's next waitlist ticket (the counter is written with the other counters)."""
    session.waitlist_seq += 1
    return session.waitlist_seq


def _first_party_that_fits(session: Session, free: int) -> Registration | None:
    return (
        Registration.objects.filter(session=session, status=Registration.Status.WAITLISTED, party_size__lte=free)
        .order_by("waitlist_ticket")
        .first()
    )


def fill(*, session: Session, now: dt.datetime | None = None) -> list[Registration]:
    """Give the free seats to the waitlist: confirm (no hold) or offer (hold) to the first parties
    that fit, one after the other, until no waitlisted party fits. Returns the parties served.

    After the offer cutoff nobody is served from here: the free seats wait for whoever asks."""
    now = now or timezone.now()
    if session.waitlist_count == 0 or free_seats(session) <= 0 or offers_stopped(session, now):
        return []
    offering = bool(session.offer_hold_minutes)
    deadline = now + offer_hold(session, now) if offering else None
    served: list[Registration] = []
    free = free_seats(session)
    while free > 0 and session.waitlist_count > 0:
        party = _first_party_that_fits(session, free)
        if party is None:
            break
        party.status = Registration.Status.OFFERED if offering else Registration.Status.CONFIRMED
        party.waitlist_ticket = None
        party.offer_expires_at = deadline
        party.forget_waitlist_position()
        party.save(update_fields=["status", "waitlist_ticket", "offer_expires_at", "updated_at"])
        session.waitlist_count -= party.party_size
        session.waitlist_parties = max(session.waitlist_parties - 1, 0)
        if offering:
            session.offered_count += party.party_size
        else:
            session.confirmed_count += party.party_size
        free -= party.party_size
        served.append(party)
    if served:
        save_counters(session)
        _announce(session=session, served=served, offering=offering)
    return served


def _announce(*, session: Session, served: list[Registration], offering: bool) -> None:
    if not offering:
        hooks.seats_given.send(session=session, registrations=served)
        return
    from registrations.tasks import expire_offer

    for party in served:
        jobs.enqueue(expire_offer, party.id, run_after=party.offer_expires_at)
    hooks.seats_offered.send(session=session, registrations=served)


def save_counters(session: Session) -> None:
    """Write the session's seat counters as they are on ``session`` (the row is locked)."""
    Session.objects.filter(id=session.id).update(
        confirmed_count=session.confirmed_count,
        waitlist_count=session.waitlist_count,
        offered_count=session.offered_count,
        waitlist_seq=session.waitlist_seq,
        waitlist_parties=session.waitlist_parties,
    )


def release(*, session: Session, party: Registration, people: int, whole: bool) -> None:
    """Take ``people`` of ``party`` off the session's counters (``whole``: the party left, else it got
    smaller); the caller then saves the counters and fills."""
    if whole and party.status == Registration.Status.WAITLISTED:
        session.waitlist_parties = max(session.waitlist_parties - 1, 0)
    if party.status == Registration.Status.CONFIRMED:
        session.confirmed_count -= people
    elif party.status == Registration.Status.OFFERED:
        session.offered_count -= people
    elif party.status == Registration.Status.WAITLISTED:
        session.waitlist_count -= people


def positions(registrations: list[Registration]) -> None:
    """Count the waitlist positions of these registrations (one query per waitlisted one, an index
    range count each) and keep them on the instances."""
    for registration in registrations:
        registration.waitlist_position  # noqa: B018 - counted and kept on the instance


def counters_from_rows(session: Session) -> dict[str, int]:
    """The counters recounted from the registrations (tests and checks compare them to the row's)."""
    totals = {"confirmed": 0, "waitlisted": 0, "offered": 0}
    rows = (
        Registration.objects.filter(session=session, status__in=list(totals))
        .values_list("status")
        .annotate(people=Sum("party_size"))
        .order_by()
    )
    for status, people in rows:
        totals[status] = people or 0
    return totals
