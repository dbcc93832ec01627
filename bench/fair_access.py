"""Fair access figures (issue 14), on the database of DATABASE_URL (a scratch PostgreSQL database:
the script migrates it and writes sessions, users and registrations into it).

- ``draw``: the draw over N entries (default 100,000): the order computed (HMAC-SHA256 keys and the
  sort, pure Python) and the whole ``draw_run`` (read the entries, compute, write every result, the
  counters), each timed on its own.
- ``withdrawals``: waitlisted fans leaving (``registration_cancel``), one transaction each, with W
  waiting (default 100 and 100,000): withdrawals per second. Positions are counted when read, so a
  withdrawal writes one registration row whatever the waitlist's length.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<scratch db> .venv/bin/python bench/fair_access.py
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_fans(n: int, prefix: str) -> list:
    from accounts.models import User

    User.objects.bulk_create(
        [User(username=f"{prefix}{i}", email=f"{prefix}{i}@bench.example") for i in range(n)], batch_size=5000
    )
    return list(User.objects.filter(username__startswith=prefix).values_list("id", flat=True))


def new_session(**fields):
    from accounts.models import Organization
    from events.models import City, Series, Session, Venue

    stamp = f"{time.time_ns()}"
    organization = Organization.objects.create(name=f"bench {stamp}", slug=f"bench-{stamp}")
    city = City.objects.create(organization=organization, name="Luoyang", latitude=34.6, longitude=112.4,
                               timezone="Asia/Shanghai")  # fmt: skip
    venue = Venue.objects.create(organization=organization, city=city, name="Hall", latitude=34.6, longitude=112.4,
                                 timezone="Asia/Shanghai", max_capacity=1000)  # fmt: skip
    series = Series.objects.create(organization=organization, title="bench", slug=f"bench-{stamp}")
    starts = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    return Session.objects.create(series=series, city=city, venue=venue, title="bench", starts_at=starts,
                                  ends_at=starts + dt.timedelta(hours=2), timezone="Asia/Shanghai",
                                  status=Session.Status.PUBLISHED, **fields)  # fmt: skip


def bench_draw(entries: int) -> dict:
    from django.utils import timezone

    from events.models import Session
    from registrations import draw, draws
    from registrations.models import Registration

    now = timezone.now()
    session = new_session(capacity=30, allocation=Session.Allocation.DRAW, entry_opens_at=now - dt.timedelta(days=1),
                          entry_closes_at=now - dt.timedelta(seconds=1), max_party_size=2)  # fmt: skip
    fans = make_fans(entries, f"d{session.id}-")
    Registration.objects.bulk_create(
        [
            Registration(
                session=session,
                fan_id=fan,
                status="entered",
                entry_ref=draw.new_entry_ref(),
                entry_weight=1 + (i % 10 == 0) * 2,
                party_size=1 + (i % 7 == 0),
            )  # fmt: skip
            for i, fan in enumerate(fans)
        ],
        batch_size=5000,
    )
    refs = list(Registration.objects.filter(session=session).values_list("entry_ref", "entry_weight"))
    seed = draw.new_seed()
    started = time.perf_counter()
    draw.drawn_order(seed, refs)
    computed = time.perf_counter() - started
    started = time.perf_counter()
    result = draws.draw_run(session_id=session.id)
    whole = time.perf_counter() - started
    return {"entries": entries, "compute_s": computed, "draw_run_s": whole, "confirmed": result.confirmed}


def settle() -> None:
    """Freshly bulk-loaded rows cost extra on their first update (hint bits, full-page WAL images):
    VACUUM ANALYZE first, so that both waitlist lengths are measured on settled tables."""
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE registrations_registration")
            cursor.execute("CHECKPOINT")


def bench_withdrawals(waiting: int, leaving: int) -> float:
    from registrations import services
    from registrations.models import Registration

    session = new_session(capacity=1)
    fans = make_fans(waiting + 1, f"w{session.id}-")
    Registration.objects.create(session=session, fan_id=fans[0], status="confirmed")
    Registration.objects.bulk_create(
        [Registration(session=session, fan_id=fan, status="waitlisted", waitlist_ticket=n)
         for n, fan in enumerate(fans[1:], start=1)],
        batch_size=5000,
    )  # fmt: skip
    type(session).objects.filter(id=session.id).update(
        confirmed_count=1, waitlist_count=waiting, waitlist_parties=waiting, waitlist_seq=waiting
    )
    settle()
    # From the front of the queue: the worst case of the old design (everyone behind renumbered).
    leavers = list(
        Registration.objects.filter(session=session, status="waitlisted").order_by("waitlist_ticket")[:leaving]
    )
    started = time.perf_counter()
    for registration in leavers:
        services.registration_cancel(registration=registration)
    return len(leavers) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--waiting", type=int, nargs="+", default=[100, 100_000])
    parser.add_argument("--leaving", type=int, default=100, help="withdrawals per round (at most the waiting)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    setup()
    from django.db import connection

    print(f"database: {connection.vendor}")
    draws_ = [bench_draw(args.entries) for _ in range(args.rounds)]
    computed = [d["compute_s"] for d in draws_]
    whole = [d["draw_run_s"] for d in draws_]
    print(f"draw over {args.entries:,} entries: order computed in {min(computed):.2f}-{max(computed):.2f} s "
          f"(median {statistics.median(computed):.2f}); draw_run (read, compute, write all) "
          f"{min(whole):.2f}-{max(whole):.2f} s (median {statistics.median(whole):.2f})")  # fmt: skip
    for waiting in args.waiting:
        rates = [bench_withdrawals(waiting, args.leaving) for _ in range(args.rounds)]
        print(f"withdrawals with {waiting:,} waiting: {min(rates):.0f}-{max(rates):.0f} per second "
              f"(median {statistics.median(rates):.0f}; {min(args.leaving, waiting)} per round)")  # fmt: skip


if __name__ == "__main__":
    main()
