"""Benchmark: a series' calendar feed of 150 sessions.

In one run, interleaved round by round so that a busy machine weighs on every figure alike:
  full    the whole request (URL routing, middleware, DRF view, queries, VEVENT building,
          serialization) through Django's test client, feed cache emptied before each request;
  ical    icalendar alone building and serializing the same 150 events from plain in-memory
          values (same properties, same VTIMEZONE, no Django, no database);
  to_ical icalendar's to_ical() of an already built calendar, for reference;
  cached  the whole request again for the unchanged feed, served from the feed cache (wall time,
          and the CPU time of this process, which a busy machine does not inflate).
Then it changes one session and checks that the next request rebuilds the feed with the change.

Goals (issue 4): full <= 1.5 x ical; cached < 5 ms.

Runs on a throwaway SQLite database in a temporary directory (or the PostgreSQL/Redis given by
DATABASE_URL / REDIS_URL, e.g. a scratch database of your own). Bounded: --rounds (default 40).
    .venv/bin/python bench/calendar_feed.py [--rounds 40] [--sessions 150]
"""

import argparse
import datetime as dt
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def setup_django(tmp: str) -> str | None:
    """Returns the original database name when a throwaway test database was created."""
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "project.settings"
    # A load test lifts the throttles (README: operators set them through the environment).
    for scope in ("ANON", "USER"):
        os.environ[f"THROTTLE_{scope}"] = ""
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    if connection.vendor == "sqlite":
        call_command("migrate", verbosity=0, interactive=False)
        return None
    # Never write into the database named in DATABASE_URL: use its test_ twin, made and dropped here.
    original = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return original


def make_series(count: int):
    from events.models import Session
    from tests.factories import CityFactory, SeriesFactory, SessionFactory, StreamFactory, VenueFactory

    series = SeriesFactory(title="2027 摄影夜校 Photography Night School")
    cities = [
        CityFactory(organization=series.organization, name=name, local_name=local, timezone=tz)
        for name, local, tz in [
            ("Luoyang", "洛阳", "Asia/Shanghai"),
            ("Xi'an", "西安", "Asia/Shanghai"),
            ("Kashgar", "喀什", "Asia/Urumqi"),
        ]
    ]
    venues = [VenueFactory(city=city, address=f"1 Zhongshan Road, {city.name} 中山路1号") for city in cities]
    base = dt.datetime(2027, 3, 1, 12, tzinfo=dt.UTC)
    kinds = [Session.Kind.TALK, Session.Kind.NIGHT_SHOOT, Session.Kind.LIVESTREAM]
    sessions = []
    for index in range(count):
        start = base + dt.timedelta(days=index // 5, hours=index % 5)
        venue = venues[index % len(venues)]
        session = SessionFactory(
            series=series,
            venue=venue,
            kind=kinds[index % 3],
            title=f"夜景摄影 第{index + 1}讲 — Light after dark, part {index + 1}",
            description=(
                "带三脚架和快门线，穿暖和些。We meet at the east gate and walk to the river; "
                "bring a tripod, a remote release and warm clothes. 集合地点：东门。"
            ),
            starts_at=start,
            ends_at=start + dt.timedelta(hours=2),
            status=Session.Status.CANCELLED if index % 15 == 0 else Session.Status.PUBLISHED,
        )
        if session.kind == Session.Kind.LIVESTREAM:
            StreamFactory(session=session, playback_url=f"https://live.example.com/play/{index}.m3u8")
        sessions.append(session)
    return series


def plain_events(series) -> list[dict]:
    """The same events as plain Python values, read before any timing."""
    from calendars import ics
    from events import selectors

    rows = []
    for session in selectors.calendar_sessions_of_series(series_id=series.id):
        texts = ics.event_texts(session)
        zone = ics.session_zone(session)
        place = session.venue or session.city
        rows.append(
            {
                "uid": ics.session_uid(session),
                "stamp": session.updated_at.astimezone(dt.UTC),
                "start": session.starts_at.astimezone(zone),
                "end": session.ends_at.astimezone(zone),
                "summary": texts.summary,
                "description": texts.description,
                "location": texts.location,
                "geo": (place.latitude, place.longitude),
                "url": texts.page_url,
                "organizer": session.series.organization.name,
                "sequence": session.sequence,
                "created": session.created_at.astimezone(dt.UTC),
                "modified": session.updated_at.astimezone(dt.UTC),
                "status": ics.public_status(session),
                "category": session.get_kind_display(),
                "playback": texts.playback_url,
                "title": session.title,
            }
        )
    return rows


def icalendar_alone(rows: list[dict], timezones: list) -> bytes:
    """What icalendar itself costs for these events: build and serialize, nothing else."""
    from icalendar import Alarm, Calendar, Event, vCalAddress, vDuration
    from icalendar.prop.conference import Conference

    calendar = Calendar()
    calendar.add("prodid", "-//bench//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("name", "bench")
    calendar.add("x-wr-calname", "bench")
    calendar.add("refresh-interval", dt.timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", vDuration(dt.timedelta(hours=1)))
    for timezone in timezones:
        calendar.add_component(timezone)
    for row in rows:
        event = Event()
        event.add("uid", row["uid"])
        event.add("dtstamp", row["stamp"])
        event.add("dtstart", row["start"])
        event.add("dtend", row["end"])
        event.add("summary", row["summary"])
        event.add("description", row["description"])
        event.add("location", row["location"])
        event.add("geo", row["geo"])
        event.add("url", row["url"])
        organizer = vCalAddress("mailto:noreply@aperture.local")
        organizer.params["CN"] = row["organizer"]
        event.add("organizer", organizer)
        event.add("sequence", row["sequence"])
        event.add("created", row["created"])
        event.add("last-modified", row["modified"])
        event.add("status", row["status"])
        event.add("transp", "OPAQUE")
        event.add("class", "PUBLIC")
        event.add("categories", [row["category"]])
        if row["playback"]:
            event.add("conference", Conference(row["playback"], feature=["VIDEO"], label="Livestream").to_uri())
        if row["status"] != "CANCELLED":
            alarm = Alarm()
            alarm.add("uid", row["uid"].replace("@", "-reminder@"))
            alarm.add("action", "DISPLAY")
            alarm.add("description", f"{row['title']} starts in 60 minutes")
            alarm.add("trigger", dt.timedelta(minutes=-60))
            event.add_component(alarm)
        calendar.add_component(event)
    return calendar.to_ical()


def ms(seconds: float) -> float:
    return seconds * 1000


def summary(name: str, samples: list[float]) -> str:
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.9))]
    return (
        f"{name:<8} median {ms(statistics.median(samples)):7.2f} ms   p90 {ms(p90):7.2f} ms   "
        f"min {ms(ordered[0]):7.2f} ms   (n={len(samples)})"
    )


def measure(sessions: int, rounds: int) -> int:
    from django.conf import settings
    from django.core.cache import cache
    from django.db import connection
    from django.test import Client
    from icalendar import Calendar

    from calendars import ics
    from calendars.selectors import local_feeds_clear

    series = make_series(sessions)
    url = f"/api/series/{series.id}/calendar.ics"
    client = Client()
    rows = plain_events(series)
    reference = client.get(url).content
    timezones = list(Calendar.from_ical(reference).walk("VTIMEZONE"))
    timezones = [ics.vtimezone(tz["TZID"], 2026, 2028) for tz in timezones]  # as the app caches them
    prebuilt = Calendar.from_ical(icalendar_alone(rows, timezones))
    assert reference.count(b"BEGIN:VEVENT") == sessions

    full, alone, to_ical, cached, cached_cpu = [], [], [], [], []
    for _ in range(3):  # warm up imports and caches of code paths
        client.get(url)
        icalendar_alone(rows, timezones)
    for _ in range(rounds):
        cache.clear()
        local_feeds_clear()
        started = time.perf_counter()
        response = client.get(url)
        full.append(time.perf_counter() - started)
        assert response.status_code == 200
        started = time.perf_counter()
        body = icalendar_alone(rows, timezones)
        alone.append(time.perf_counter() - started)
        started = time.perf_counter()
        prebuilt.to_ical()
        to_ical.append(time.perf_counter() - started)
        started, started_cpu = time.perf_counter(), time.process_time()
        hit = client.get(url)
        cached.append(time.perf_counter() - started)
        cached_cpu.append(time.process_time() - started_cpu)
        assert hit.content == response.content
    assert body.count(b"BEGIN:VEVENT") == sessions

    # Invalidation: one session moves; the very next request must show it.
    from events.models import Session

    session = Session.objects.filter(series=series, status=Session.Status.PUBLISHED).first()
    session.starts_at += dt.timedelta(hours=1)
    session.ends_at += dt.timedelta(hours=1)
    session.sequence += 1
    session.save()
    started = time.perf_counter()
    after = client.get(url)
    after_change = time.perf_counter() - started
    event = next(e for e in Calendar.from_ical(after.content).walk("VEVENT") if e["UID"] == ics.session_uid(session))
    invalidated = event["DTSTART"].dt.astimezone(dt.UTC) == session.starts_at and event["SEQUENCE"] == session.sequence
    started = time.perf_counter()
    client.get(url)
    cached_after_change = time.perf_counter() - started

    # Per-round ratios: both figures of a round met the same machine load.
    ratio = statistics.median(f / a for f, a in zip(full, alone, strict=True))
    ratio_to_ical = statistics.median(f / t for f, t in zip(full, to_ical, strict=True))
    print(
        f"series feed of {sessions} sessions, {len(reference)} bytes; database {connection.vendor}; "
        f"cache {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[1]}; {rounds} rounds; "
        f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}"
    )
    print(summary("full", full))
    print(summary("ical", alone))
    print(summary("to_ical", to_ical))
    print(summary("cached", cached))
    print(summary("cpu", cached_cpu) + "  CPU time of the cached request (what other processes cannot inflate)")
    print(f"full / ical     = {ratio:.2f}  (median of per-round ratios; goal <= 1.5)")
    print(f"full / to_ical  = {ratio_to_ical:.2f}  (reference only)")
    print(f"cached median   = {ms(statistics.median(cached)):.2f} ms  (goal < 5 ms)")
    print(
        f"after a change: rebuilt in {ms(after_change):.2f} ms, change visible: {invalidated}; "
        f"next request {ms(cached_after_change):.2f} ms"
    )
    ok = ratio <= 1.5 and statistics.median(cached) < 0.005 and invalidated
    print("goals met" if ok else "goals NOT met")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=40, help="measured rounds (each: one of every kind)")
    parser.add_argument("--sessions", type=int, default=150)
    args = parser.parse_args()
    rounds = max(1, min(args.rounds, 500))
    sessions = max(1, min(args.sessions, 2000))

    with tempfile.TemporaryDirectory(prefix="aperture-bench-") as tmp:
        original_database = setup_django(tmp)
        try:
            return measure(sessions, rounds)
        finally:
            if original_database is not None:
                from django.db import connection

                connection.creation.destroy_test_db(original_database, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
