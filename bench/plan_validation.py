"""Benchmark: validating (and creating) a month-long plan of 150 sessions with POST /api/series/{id}/plan/.

The plan is a month across the 15 demo cities: 100 talks, 27 night shoots (after civil dusk) and
23 livestreams, each with a host; a month of 150 sessions of another series is already saved just
before it (so the conflict check reads real neighbours). Measured, interleaved round by round:
  service   events.services.series_plan_import(dry_run=True) on already parsed rows;
  dry_run   the whole request through Django's test client (JSON parsing, per-row serializer,
            rules, conflicts, response), ?dry_run=true;
  csv       the same plan uploaded as a text/csv body, ?dry_run=true;
  create    the whole request without dry_run (150 rows written), rolled back after each round.
Each figure also reports the number of SQL queries of one request.

Goal (issue 3): 150 sessions validate in well under a second.

Runs on a throwaway SQLite database in a temporary directory (or the database given by DATABASE_URL,
e.g. a scratch PostgreSQL database of your own). Bounded: --rounds (default 15).
    .venv/bin/python bench/plan_validation.py [--rounds 15]
"""

import argparse
import calendar
import csv
import datetime as dt
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TALKS, NIGHT_SHOOTS, LIVESTREAMS = 100, 27, 23


def setup_django(tmp: str) -> None:
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    for scope in ("ANON", "USER"):
        os.environ[f"THROTTLE_{scope}"] = ""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    warnings.filterwarnings("ignore", "No directory at", UserWarning)  # no collected static files here
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_world():
    from accounts.models import Membership, Organization, User
    from events.demo_data import CITIES
    from events.models import City, Venue

    organization = Organization.objects.create(name="Bench Night School", slug="bench-night-school")
    organizer = User.objects.create(username="bench-organizer", email="organizer@bench.example")
    Membership.objects.create(user=organizer, organization=organization, role=Membership.Role.ORGANIZER)
    places = []
    for index, (name, local_name, lat, lon, tz_name, academy, site) in enumerate(CITIES):
        city = City.objects.create(
            organization=organization, name=name, local_name=local_name, latitude=lat, longitude=lon, timezone=tz_name
        )
        venues = [
            Venue.objects.create(
                organization=organization,
                city=city,
                name=venue_name,
                address=address,
                latitude=vlat,
                longitude=vlon,
                timezone=tz_name,
                max_capacity=capacity,
                outdoor=outdoor,
            )
            for (venue_name, address, vlat, vlon, capacity), outdoor in ((academy, False), (site, True))
        ]
        hosts = []
        for n in range(2):
            user = User.objects.create(username=f"bench-host-{index}-{n}", email=f"h{index}{n}@bench.example")
            Membership.objects.create(user=user, organization=organization, role=Membership.Role.HOST)
            hosts.append(user.id)
        places.append((city, venues[0], venues[1], hosts))
    return organization, organizer, places


def month_plan(month_start: dt.date, places) -> list[dict]:
    """A conflict-free month: one talk per city and evening at its academy (by its resident host),
    night shoots at the outdoor sites after dusk, livestreams from the sites in the morning."""
    from events.conflicts import civil_twilight

    days = calendar.monthrange(month_start.year, month_start.month)[1]
    rows = []

    def at(day: dt.date, hour: int, minute: int, tz: str) -> dt.datetime:
        return dt.datetime(day.year, day.month, day.day, hour, minute, tzinfo=zoneinfo.ZoneInfo(tz))

    def add(kind, title, venue, host, start, minutes, capacity):
        rows.append(
            {
                "kind": kind,
                "title": title,
                "venue": venue.id,
                "hosts": [host],
                "starts_at": start.isoformat(),
                "ends_at": (start + dt.timedelta(minutes=minutes)).isoformat(),
                "capacity": capacity,
                "registration_opens_at": (start - dt.timedelta(days=20)).isoformat(),
                "registration_closes_at": (start - dt.timedelta(hours=2)).isoformat(),
            }
        )

    offsets = [0, 6, 12, 3]
    for k in range(TALKS):
        day_index, round_index = k % days, k // days
        city, academy, _, hosts = places[(day_index + offsets[round_index]) % len(places)]
        start = at(month_start + dt.timedelta(days=day_index), 19, 0, city.timezone)
        add("talk", f"Talk {k} · 夜景摄影 ({city.name})", academy, hosts[0], start, 90, 60)
    for k in range(NIGHT_SHOOTS):
        city, _, site, hosts = places[k % len(places)]
        start = at(month_start + dt.timedelta(days=(k * days) // NIGHT_SHOOTS), 20, 0, city.timezone)
        _, dusk = civil_twilight(site.latitude, site.longitude, site.timezone, start.date())
        while start < dusk:
            start += dt.timedelta(minutes=15)
        add("night_shoot", f"Night shoot {k} · {city.local_name}夜拍", site, hosts[1], start, 150, 20)
    for k in range(LIVESTREAMS):
        city, _, site, hosts = places[(k * 4) % len(places)]
        start = at(month_start + dt.timedelta(days=k), 10, 0, city.timezone)
        add("livestream", f"Live {k} from {site.name}", site, hosts[1], start, 60, 20)
    return rows


def as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    for row in rows:
        writer.writerow(row | {"hosts": ";".join(str(h) for h in row["hosts"])})
    return out.getvalue()


def summary(name: str, samples: list[float], queries: int) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, int(len(ms) * 0.9))]
    return (
        f"{name:8s} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms   max {ms[-1]:7.1f} ms"
        f"   {queries:3d} queries"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, 200))

    with tempfile.TemporaryDirectory() as tmp:
        setup_django(tmp)
        from django.db import connection, transaction
        from django.test import Client
        from django.test.utils import CaptureQueriesContext
        from django.utils import timezone
        from rest_framework.authtoken.models import Token

        from events import services
        from events.apis import parse_plan
        from events.models import Series, Session

        organization, organizer, places = make_world()
        today = timezone.now().date()
        first = dt.date(today.year + (today.month == 12), today.month % 12 + 1, 1)
        second = dt.date(first.year + (first.month == 12), first.month % 12 + 1, 1)
        before = Series.objects.create(organization=organization, title="Month one", slug="bench-month-one")
        series = Series.objects.create(organization=organization, title="Month two", slug="bench-month-two")
        saved = services.series_plan_import(series=before, rows=parse_plan(month_plan(first, places))[0], by=None)
        assert saved.created == TALKS + NIGHT_SHOOTS + LIVESTREAMS
        # The plan under test is the month after: its first days meet the saved month's last ones.
        rows = month_plan(second, places)
        assert len(rows) == 150
        body_csv = as_csv(rows)
        token = Token.objects.create(user=organizer).key
        client = Client(HTTP_AUTHORIZATION=f"Token {token}")
        url = f"/api/series/{series.id}/plan/"

        def run_service():
            parsed, errors = parse_plan(rows)
            assert not errors
            result = services.series_plan_import(series=series, rows=parsed, by=organizer, dry_run=True)
            assert len(result.sessions) == 150

        def run_dry():
            response = client.post(f"{url}?dry_run=true", rows, content_type="application/json")
            assert response.status_code == 200, response.content[:500]

        def run_csv():
            response = client.post(f"{url}?dry_run=true", body_csv, content_type="text/csv")
            assert response.status_code == 200, response.content[:500]

        def run_create():
            with transaction.atomic():
                response = client.post(url, rows, content_type="application/json")
                assert response.status_code == 201, response.content[:500]
                assert Session.objects.filter(series=series).count() == 150
                transaction.set_rollback(True)

        runs = {"service": run_service, "dry_run": run_dry, "csv": run_csv, "create": run_create}
        samples: dict[str, list[float]] = {name: [] for name in runs}
        queries: dict[str, int] = {}
        for name, run in runs.items():  # warm-up, and one query count each
            with CaptureQueriesContext(connection) as ctx:
                run()
            queries[name] = len(ctx.captured_queries)
        for _ in range(rounds):
            for name, run in runs.items():
                started = time.perf_counter()
                run()
                samples[name].append(time.perf_counter() - started)
        assert not Session.objects.filter(series=series).exists()

        print(
            f"plan of 150 sessions ({TALKS} talks, {NIGHT_SHOOTS} night shoots, {LIVESTREAMS} livestreams; "
            f"150 saved sessions of the month before), {rounds} rounds, {connection.vendor}"
        )
        for name in runs:
            print(summary(name, samples[name], queries[name]))


if __name__ == "__main__":
    main()
