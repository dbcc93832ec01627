""" "Add to calendar" links for Google Calendar and Outlook on the web."""

import datetime as dt
import zoneinfo
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendars.selectors import calendar_links
from tests.factories import CityFactory, SessionFactory, StreamFactory, VenueFactory

pytestmark = pytest.mark.django_db


def query(url: str) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(url).query, strict_parsing=True).items()}


def beijing_session(**kwargs):
    start = dt.datetime(2026, 12, 5, 19, 30, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))
    return SessionFactory(starts_at=start, ends_at=start + dt.timedelta(hours=2, minutes=15), **kwargs)


def test_google_link_has_the_utc_times_and_the_details():
    session = beijing_session(title="夜拍 Longmen", description="带三脚架 Bring a tripod")
    link = calendar_links(session)["google"]
    assert link.startswith("https://calendar.google.com/calendar/render?")
    params = query(link)
    assert params["action"] == "TEMPLATE"
    assert params["dates"] == "20261205T113000Z/20261205T134500Z"
    assert params["text"] == "夜拍 Longmen"
    assert "带三脚架 Bring a tripod" in params["details"]
    assert f"/sessions/{session.id}/" in params["details"]
    assert session.venue.address in params["location"]
    assert params["ctz"] == "Asia/Shanghai"


def test_outlook_link_has_the_utc_times_and_the_details():
    session = beijing_session(title="夜拍 Longmen")
    link = calendar_links(session)["outlook"]
    assert link.startswith("https://outlook.live.com/calendar/0/deeplink/compose?")
    params = query(link)
    assert params["rru"] == "addevent"
    assert params["path"] == "/calendar/action/compose"
    assert params["startdt"] == "2026-12-05T11:30:00Z"
    assert params["enddt"] == "2026-12-05T13:45:00Z"
    assert params["subject"] == "夜拍 Longmen"
    assert f"/sessions/{session.id}/" in params["body"]
    assert session.venue.name in params["location"]


def test_link_times_are_utc_for_a_venue_in_any_time_zone():
    city = CityFactory(timezone="America/New_York")
    start = dt.datetime(2027, 7, 1, 21, 0, tzinfo=zoneinfo.ZoneInfo("America/New_York"))
    session = SessionFactory(
        series__organization=city.organization,
        venue=VenueFactory(city=city),
        starts_at=start,
        ends_at=start + dt.timedelta(hours=1),
    )
    links = calendar_links(session)
    assert query(links["google"])["dates"] == "20270702T010000Z/20270702T020000Z"
    assert query(links["outlook"])["startdt"] == "2027-07-02T01:00:00Z"


def test_livestream_links_carry_the_playback_url():
    stream = StreamFactory(playback_url="https://live.example.com/play/x.m3u8")
    links = calendar_links(stream.session)
    assert "https://live.example.com/play/x.m3u8" in query(links["google"])["details"]
    assert "https://live.example.com/play/x.m3u8" in query(links["outlook"])["body"]


def test_long_descriptions_are_cut_in_links():
    session = beijing_session(description="长" * 5000)
    assert len(calendar_links(session)["google"]) < 4000


def test_session_api_shows_calendar_links_in_constant_queries(api_client):
    session = beijing_session()
    body = api_client.get(f"/api/sessions/{session.id}/").json()
    assert (
        body["calendar_links"]["ics"] == f"http://testserver/api/sessions/{session.id}/calendar.ics"
    )  # SITE_URL unset: the request's address
    assert query(body["calendar_links"]["google"])["dates"] == "20261205T113000Z/20261205T134500Z"
    for _ in range(5):
        SessionFactory(series=session.series)
    with CaptureQueriesContext(connection) as few:
        api_client.get("/api/sessions/?page_size=2")
    with CaptureQueriesContext(connection) as many:
        api_client.get("/api/sessions/?page_size=6")
    assert len(few.captured_queries) == len(many.captured_queries)


def test_ics_link_downloads_the_session(api_client):
    session = beijing_session()
    path = urlsplit(calendar_links(session)["ics"]).path
    response = api_client.get(path)
    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="session-{session.id}.ics"'
