"""Never oversold under any concurrency (issue 14, point 7): parties, cancellations, party reductions,
offers accepted while they expire, on PostgreSQL with real threads, each with its own connection and
transactions. Every write holds the session row lock (``registrations.services._locked``); without it
these runs lose counts or trip the database's CHECK (confirmed + offered <= capacity) and fail."""

import datetime as dt
import random
from collections import Counter

import pytest
from django.db import connection
from django.utils import timezone

from accounts.models import User
from registrations import draws, services, waitlist
from registrations.models import Registration
from tests.concurrency import run_concurrently
from tests.factories import SessionFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL concurrency test (set DATABASE_URL)")


def make_fans(n, prefix):
    User.objects.bulk_create([User(username=f"{prefix}{i}", email=f"{prefix}{i}@example.com") for i in range(n)])
    return list(User.objects.filter(username__startswith=prefix).order_by("id"))


def assert_never_oversold(session):
    """Counters are the rows' people; confirmed + offered within capacity; positions gapless; and no
    waitlisted party would fit the free seats (unless seats are held for an offer)."""
    session.refresh_from_db()
    rows = waitlist.counters_from_rows(session)
    assert (session.confirmed_count, session.offered_count, session.waitlist_count) == (
        rows["confirmed"], rows["offered"], rows["waitlisted"],
    )  # fmt: skip
    assert session.confirmed_count + session.offered_count <= session.capacity
    waiting = list(Registration.objects.filter(session=session, status="waitlisted").order_by("waitlist_ticket"))
    assert [r.waitlist_position for r in waiting] == list(range(1, len(waiting) + 1))
    assert session.waitlist_parties == len(waiting)
    free = waitlist.free_seats(session)
    assert all(r.party_size > free for r in waiting), (free, [r.party_size for r in waiting])


def no_errors(results):
    errors = [r for r in results if isinstance(r, Exception)]
    assert not errors, errors[:3]


def test_parties_registering_cancelling_and_shrinking_at_once_never_oversell():
    rng = random.Random(14)
    session = SessionFactory(capacity=30, max_party_size=3)
    early = [
        services.registration_create(session=session, fan=fan, party_size=rng.randint(1, 3))
        for fan in make_fans(30, "early")
    ]
    newcomers = make_fans(80, "new")
    sizes = [rng.randint(1, 3) for _ in newcomers]
    jobs = [
        (lambda fan=fan, size=size: services.registration_create(session=session, fan=fan, party_size=size))
        for fan, size in zip(newcomers, sizes, strict=True)
    ]
    jobs += [(lambda r=r: services.registration_cancel(registration=r)) for r in early[::3]]
    jobs += [
        (lambda r=r: services.registration_reduce_party(registration=r, party_size=1))
        for r in early[1::3]
        if r.party_size > 1
    ]
    rng.shuffle(jobs)
    no_errors(run_concurrently(jobs))
    assert_never_oversold(session)
    session.refresh_from_db()
    assert session.capacity - session.confirmed_count < 3  # the seats went to the waitlist


def test_offers_accepted_while_they_expire_and_seats_freed_meanwhile_never_oversell():
    session = SessionFactory(capacity=20, max_party_size=2, offer_hold_minutes=60)
    rng = random.Random(7)
    seated = [services.registration_create(session=session, fan=fan) for fan in make_fans(20, "seat")]
    for fan in make_fans(40, "wait"):
        services.registration_create(session=session, fan=fan, party_size=rng.randint(1, 2))
    # Ten seats freed at once: ten offers (or fewer, larger ones) go out.
    no_errors(run_concurrently([(lambda r=r: services.registration_cancel(registration=r)) for r in seated[:10]]))
    assert_never_oversold(session)
    offers = list(Registration.objects.filter(session=session, status="offered"))
    assert offers
    # Half of the offers are past their deadline: their accept races their expiry job.
    late = offers[::2]
    Registration.objects.filter(id__in=[r.id for r in late]).update(
        offer_expires_at=timezone.now() - dt.timedelta(seconds=1)
    )
    jobs = [(lambda r=r: services.offer_accept(registration=r)) for r in offers]
    jobs += [(lambda r=r: services.offer_expire(registration_id=r.id)) for r in offers]
    jobs += [(lambda r=r: services.registration_cancel(registration=r)) for r in seated[10:16]]
    jobs += [(lambda fan=fan: services.registration_create(session=session, fan=fan)) for fan in make_fans(30, "late")]
    rng.shuffle(jobs)
    results = run_concurrently(jobs)
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(getattr(e, "code", None) == "offer_expired" for e in refused), refused[:3]
    assert len(refused) >= len(late)  # a late offer is never accepted
    assert_never_oversold(session)
    outcome = Counter(Registration.objects.get(id=r.id).status for r in late)
    assert outcome["confirmed"] == 0
    on_time = Counter(Registration.objects.get(id=r.id).status for r in offers[1::2])
    assert on_time["confirmed"] == len(offers[1::2])


def _draw_session(**fields):
    from events.models import Session

    now = timezone.now()
    return SessionFactory(
        allocation=Session.Allocation.DRAW, max_party_size=2, entry_opens_at=now - dt.timedelta(hours=1), **fields
    )


def _verified_fans(n, prefix, email=None):
    fans = make_fans(n, prefix)
    for i, fan in enumerate(fans):
        fan.email = email(i) if email else fan.email
        fan.email_verified_at = timezone.now() - dt.timedelta(days=1)
    User.objects.bulk_update(fans, ["email", "email_verified_at"])
    return fans


def test_entries_at_once_one_per_account_and_one_per_address():
    """Double clicks and twin accounts (the same verified address) entering at the same instant: one
    entry per account and per address. Entries share the session row, so without the address lock
    (or the fan's unique row) twins both get in."""
    session = _draw_session(capacity=10, entry_closes_at=timezone.now() + dt.timedelta(hours=1))
    draws.draw_for(session=session)  # every entry below takes the two-statement path
    fans = _verified_fans(40, "entrant")
    twins = _verified_fans(40, "twin", email=lambda i: fans[i].email.upper())
    enter = lambda fan: draws.entry_create(  # noqa: E731
        session_id=session.id, fan=fan, priority_code=None, party_size=1, companions=[]
    )
    jobs = [(lambda fan=fan: enter(fan)) for fan in fans + fans + twins]
    random.Random(3).shuffle(jobs)
    results = run_concurrently(jobs)
    refused = [r for r in results if isinstance(r, Exception)]
    assert all(getattr(e, "code", None) == "already_entered" for e in refused), refused[:3]
    entries = list(Registration.objects.filter(session=session).select_related("fan"))
    assert all(e.status == "entered" and e.entry_ref for e in entries)
    by_address = Counter(e.fan.email.lower() for e in entries)
    assert len(by_address) == 40 and max(by_address.values()) == 1
    assert len({e.entry_ref for e in entries}) == len(entries)


def test_the_draw_waits_for_the_entries_in_progress_and_leaves_none_behind():
    """Entries arriving around the close of the window while the draw is asked for at the close:
    every entry made is drawn (none left "entered" behind the draw), the draw runs once, and the
    result never oversells. The draw locks the session row, which entries share."""
    import time

    closes = timezone.now() + dt.timedelta(seconds=2)
    session = _draw_session(capacity=12, entry_closes_at=closes, draw_at=closes)
    draws.draw_for(session=session)
    fans = _verified_fans(90, "late")
    rng = random.Random(5)

    def at(offset):
        time.sleep(max(0.0, (closes - timezone.now()).total_seconds() + offset))

    def enter(fan, offset):
        at(offset)
        return draws.entry_create(
            session_id=session.id, fan=fan, priority_code=None, party_size=rng.choice([1, 1, 2]), companions=[]
        )

    def run_draw(offset):
        at(offset)
        return draws.draw_run(session_id=session.id)

    offsets = [rng.uniform(-0.15, 0.03) for _ in fans]
    jobs = [(lambda f=f, o=o: enter(f, o)) for f, o in zip(fans, offsets, strict=True)]
    jobs += [(lambda o=o: run_draw(o)) for o in (0.0, 0.001, 0.002, 0.01, 0.05)]
    results = run_concurrently(jobs)
    codes = Counter(getattr(r, "code", "ok") for r in results if isinstance(r, Exception))
    assert set(codes) <= {"closed", "already_drawn"}, codes
    draws_run = [r for r in results if isinstance(r, draws.DrawResult)]
    assert len(draws_run) == 1
    entered = [r for r in results[: len(fans)] if isinstance(r, tuple)]
    assert not Registration.objects.filter(session=session, status="entered").exists()
    assert draws_run[0].confirmed + draws_run[0].waitlisted == len(entered)
    assert_never_oversold(session)
