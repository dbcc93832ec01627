"""The content of every VEVENT, read back with three implementations."""

import datetime as dt
import re
import zoneinfo

import pytest

from events.models import Session
from tests.calendars.ical import events_by_uid, expanded_events, ics_py_events
from tests.factories import CityFactory, SessionFactory, StreamFactory, VenueFactory

pytestmark = pytest.mark.django_db

CHINESE_TITLE = "龙门石窟夜拍：星轨与灯光 — Longmen Grottoes night shoot, star trails and lantern light"
CHINESE_DESCRIPTION = "带三脚架和快门线。集合地点：东山入口。\nBring a tripod; meet at the east gate; 10°C after dark."


def series_ics(api_client, series_id: int, **params) -> bytes:
    response = api_client.get(f"/api/series/{series_id}/calendar.ics", params)
    assert response.status_code == 200, response.content
    return response.content


def test_each_event_has_the_rfc_5545_properties_the_issue_lists(api_client, settings):
    settings.SITE_URL = "https://aperture.example"
    session = SessionFactory(title=CHINESE_TITLE, description=CHINESE_DESCRIPTION, sequence=2)
    event = events_by_uid(series_ics(api_client, session.series_id))[f"session-{session.id}@aperture.example"]
    assert event.get("DTSTAMP") is not None
    assert event["DTSTART"].params["TZID"] == "Asia/Shanghai"
    assert event["DTEND"].params["TZID"] == "Asia/Shanghai"
    assert str(event["SUMMARY"]) == CHINESE_TITLE
    assert f"https://aperture.example/sessions/{session.id}/" in str(event["DESCRIPTION"])
    assert str(event["URL"]) == f"https://aperture.example/sessions/{session.id}/"
    assert session.venue.name in str(event["LOCATION"])
    assert session.venue.address in str(event["LOCATION"])
    assert (event["GEO"].latitude, event["GEO"].longitude) == (session.venue.latitude, session.venue.longitude)
    assert str(event["ORGANIZER"]).startswith("mailto:")
    assert event["ORGANIZER"].params["CN"] == session.series.organization.name
    assert event["SEQUENCE"] == 2
    assert event["LAST-MODIFIED"].dt == session.updated_at.replace(microsecond=0)
    assert str(event["STATUS"]) == "CONFIRMED"
    (alarm,) = event.walk("VALARM")
    assert str(alarm["ACTION"]) == "DISPLAY"
    assert alarm["TRIGGER"].dt == -dt.timedelta(minutes=60)


def test_calendar_has_a_vtimezone_for_every_tzid_it_uses(api_client):
    shanghai = SessionFactory()
    urumqi_city = CityFactory(organization=shanghai.series.organization, timezone="Asia/Urumqi", local_name="乌鲁木齐")
    SessionFactory(series=shanghai.series, venue=VenueFactory(city=urumqi_city))
    body = series_ics(api_client, shanghai.series_id)
    tzids = set(re.findall(rb"TZID=([^:;]+)", body))
    defined = set(re.findall(rb"\r\nTZID:([^\r]+)\r\n", body))
    assert tzids == {b"Asia/Shanghai", b"Asia/Urumqi"}
    assert defined == tzids
    assert body.index(b"BEGIN:VTIMEZONE") < body.index(b"BEGIN:VEVENT")


def test_lines_end_with_crlf_and_are_folded_to_75_octets(api_client):
    session = SessionFactory(title=CHINESE_TITLE * 2, description=CHINESE_DESCRIPTION * 5)
    body = series_ics(api_client, session.series_id)
    assert body.endswith(b"\r\n")
    assert b"\n" not in body.replace(b"\r\n", b"")
    lines = body.split(b"\r\n")
    assert all(len(line) <= 75 for line in lines)
    assert any(line.startswith(b" ") for line in lines), "long values must be folded"
    for line in lines:
        line.decode("utf-8")  # folding never splits a multi-byte character


def test_chinese_text_survives_a_round_trip_through_both_parsers(api_client):
    session = SessionFactory(title=CHINESE_TITLE, description=CHINESE_DESCRIPTION)
    session.city.local_name = "洛阳"
    body = series_ics(api_client, session.series_id)
    uid = next(iter(events_by_uid(body)))
    ours = events_by_uid(body)[uid]
    theirs = ics_py_events(body)[uid]
    assert str(ours["SUMMARY"]) == theirs.name == CHINESE_TITLE
    assert CHINESE_DESCRIPTION in str(ours["DESCRIPTION"])
    assert CHINESE_DESCRIPTION in theirs.description
    assert "洛阳" in theirs.location


def test_every_event_in_utc_equals_the_stored_start_in_all_three_parsers(api_client):
    """Venues in five time zones; in the DST ones, starts on both sides of a change and in the hour
    that happens twice (RFC 5545 reads an ambiguous local time as its first occurrence)."""
    first = SessionFactory()
    series = first.series
    zones = ["Asia/Shanghai", "Asia/Urumqi", "Europe/Berlin", "America/New_York", "UTC"]
    starts = [
        dt.datetime(2027, 3, 28, 0, 30, tzinfo=dt.UTC),  # Berlin springs forward at 01:00 UTC
        dt.datetime(2027, 3, 28, 1, 30, tzinfo=dt.UTC),
        dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC),  # 02:30 in Berlin, first time
        dt.datetime(2027, 10, 31, 1, 30, tzinfo=dt.UTC),  # 02:30 in Berlin, second time
        dt.datetime(2027, 11, 7, 5, 30, tzinfo=dt.UTC),  # 01:30 in New York, first time
        dt.datetime(2027, 11, 7, 6, 30, tzinfo=dt.UTC),  # 01:30 in New York, second time
        dt.datetime(2028, 1, 15, 12, 0, tzinfo=dt.UTC),
    ]
    for zone in zones:
        city = CityFactory(organization=series.organization, timezone=zone)
        venue = VenueFactory(city=city)
        for start in starts:
            SessionFactory(series=series, venue=venue, starts_at=start, ends_at=start + dt.timedelta(hours=3))
    body = series_ics(api_client, series.id)
    sessions = {f"session-{s.id}@127.0.0.1": s for s in Session.objects.filter(series=series)}
    ours = events_by_uid(body)
    theirs = ics_py_events(body)
    expanded = {
        str(e["UID"]): e
        for e in expanded_events(body, dt.datetime(2020, 1, 1, tzinfo=dt.UTC), dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    }
    assert set(ours) == set(theirs) == set(expanded) == set(sessions)
    for uid, session in sessions.items():
        assert ours[uid]["DTSTART"].dt.astimezone(dt.UTC) == session.starts_at
        assert ours[uid]["DTEND"].dt.astimezone(dt.UTC) == session.ends_at
        assert expanded[uid]["DTSTART"].dt.astimezone(dt.UTC) == session.starts_at
        assert theirs[uid].begin.to("UTC").datetime == session.starts_at
        assert theirs[uid].end.to("UTC").datetime == session.ends_at


def test_a_start_in_the_repeated_hour_of_a_dst_change_is_written_in_utc(api_client):
    """01:30 on 7 Nov 2027 happens twice in New York; a TZID time would mean the first one."""
    city = CityFactory(timezone="America/New_York")
    second = dt.datetime(2027, 11, 7, 6, 30, tzinfo=dt.UTC)
    session = SessionFactory(
        series__organization=city.organization,
        venue=VenueFactory(city=city),
        starts_at=second,
        ends_at=second + dt.timedelta(hours=2),
    )
    body = series_ics(api_client, session.series_id)
    assert b"DTSTART:20271107T063000Z\r\n" in body
    assert b"DTEND;TZID=America/New_York:20271107T033000\r\n" in body


def test_local_time_in_the_feed_is_the_venues_wall_clock(api_client):
    start = dt.datetime(2026, 12, 5, 19, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    session = SessionFactory(starts_at=start, ends_at=start + dt.timedelta(hours=2))
    body = series_ics(api_client, session.series_id)
    assert b"DTSTART;TZID=Asia/Shanghai:20261205T193000\r\n" in body


def test_livestream_carries_the_playback_url(api_client):
    stream = StreamFactory(playback_url="https://live.example.com/play/longmen.m3u8")
    body = series_ics(api_client, stream.session.series_id)
    event = events_by_uid(body)[f"session-{stream.session.id}@127.0.0.1"]
    assert "https://live.example.com/play/longmen.m3u8" in str(event["DESCRIPTION"])
    assert str(event["CONFERENCE"]) == "https://live.example.com/play/longmen.m3u8"
    assert "https://live.example.com/play/longmen.m3u8" in ics_py_events(body)[str(event["UID"])].description


def test_cancelled_session_stays_in_the_feed_as_cancelled_without_a_reminder(api_client):
    session = SessionFactory(status=Session.Status.CANCELLED, cancel_reason="Typhoon warning 台风预警", sequence=3)
    body = series_ics(api_client, session.series_id)
    event = events_by_uid(body)[f"session-{session.id}@127.0.0.1"]
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 3
    assert "台风预警" in str(event["DESCRIPTION"])
    assert not event.walk("VALARM")
    assert ics_py_events(body)[str(event["UID"])].status == "CANCELLED"


def test_uid_is_stable_across_feeds_and_edits(api_client, settings):
    session = SessionFactory()
    single = api_client.get(f"/api/sessions/{session.id}/calendar.ics").content
    feed_before = series_ics(api_client, session.series_id)
    session.title = "Renamed"
    session.starts_at += dt.timedelta(days=1)
    session.ends_at += dt.timedelta(days=1)
    session.save()
    feed_after = series_ics(api_client, session.series_id)
    assert set(events_by_uid(single)) == set(events_by_uid(feed_before)) == set(events_by_uid(feed_after))


def test_online_livestream_without_a_venue_uses_its_city_and_own_time_zone(api_client):
    city = CityFactory(timezone="Asia/Urumqi", latitude=43.8, longitude=87.6, local_name="乌鲁木齐")
    stream = StreamFactory(
        session__series__organization=city.organization,
        session__venue=None,
        session__city=city,
        session__timezone="Asia/Urumqi",
        playback_url="https://live.example.com/play/online.m3u8",
    )
    session = stream.session
    body = series_ics(api_client, session.series_id)
    event = events_by_uid(body)[f"session-{session.id}@127.0.0.1"]
    assert event["DTSTART"].params["TZID"] == "Asia/Urumqi"
    assert event["DTSTART"].dt.astimezone(dt.UTC) == session.starts_at
    assert "https://live.example.com/play/online.m3u8" in str(event["LOCATION"])
    assert "乌鲁木齐" in str(event["LOCATION"])
    assert (event["GEO"].latitude, event["GEO"].longitude) == (43.8, 87.6)


@pytest.mark.parametrize("year", [1, 9999])
def test_a_session_at_either_end_of_the_calendar_still_has_its_feeds(api_client, year):
    """The API takes any date a datetime holds; the VTIMEZONE's years around it must stay within
    them too (a session in 9999 asked for rules until 10001 and the feed answered 500)."""
    starts = dt.datetime(year, 6, 1, 12, tzinfo=dt.UTC)
    session = SessionFactory(
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        registration_opens_at=None,
        registration_closes_at=None,
        priority_opens_at=None,
        timezone="Asia/Shanghai",
    )
    event = events_by_uid(series_ics(api_client, session.series_id))
    assert len(event) == 1
    response = api_client.get(f"/api/sessions/{session.id}/calendar.ics")
    assert response.status_code == 200 and b"TZID:Asia/Shanghai" in response.content
