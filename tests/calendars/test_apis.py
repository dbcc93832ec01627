"""The public .ics endpoints: visibility, errors, HTTP caching, query counts and the feed cache."""

import datetime as dt

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from calendars import selectors
from events.models import Session
from tests.calendars.ical import events_by_uid, parse_icalendar
from tests.factories import (
    CityFactory,
    SeriesFactory,
    SessionFactory,
    StreamFactory,
    VenueFactory,
    organizer_of,
)

pytestmark = pytest.mark.django_db


def uids(body: bytes) -> set[str]:
    return set(events_by_uid(body))


def uid(session: Session) -> str:
    return f"session-{session.id}@127.0.0.1"


def test_single_session_ics_is_one_vevent_served_as_text_calendar(api_client):
    session = SessionFactory()
    response = api_client.get(f"/api/sessions/{session.id}/calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["ETag"].startswith('"')
    assert response["Last-Modified"].endswith("GMT")
    assert uids(response.content) == {uid(session)}
    assert response.content.count(b"BEGIN:VEVENT") == 1


def test_calendar_apps_asking_for_text_calendar_get_it(api_client):
    session = SessionFactory()
    response = api_client.get(f"/api/sessions/{session.id}/calendar.ics", HTTP_ACCEPT="text/calendar")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"


def test_draft_session_ics_is_a_json_404_for_the_public_but_served_to_its_organizer(api_client, as_user):
    draft = SessionFactory(status=Session.Status.DRAFT)
    response = api_client.get(f"/api/sessions/{draft.id}/calendar.ics", HTTP_ACCEPT="text/calendar")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == "not_found"
    organizer = organizer_of(draft.series.organization)
    assert as_user(organizer).get(f"/api/sessions/{draft.id}/calendar.ics").status_code == 200


def test_empty_series_feed_is_a_valid_calendar(api_client):
    series = SeriesFactory()
    SessionFactory(series=series, status=Session.Status.DRAFT)
    response = api_client.get(f"/api/series/{series.id}/calendar.ics")
    assert response.status_code == 200
    assert events_by_uid(response.content) == {}


def test_city_feed_is_named_after_the_city(api_client):
    session = SessionFactory()
    body = api_client.get(f"/api/series/{session.series_id}/calendar.ics", {"city": session.city_id}).content
    assert "洛阳" in str(parse_icalendar(body)["X-WR-CALNAME"])


def test_unknown_series_is_a_json_404(api_client):
    response = api_client.get("/api/series/987654/calendar.ics")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found.", "code": "not_found", "fields": {}}


@pytest.mark.parametrize("kind", ["sessions", "series"])
@pytest.mark.parametrize("pk", ["9223372036854775807", "99999999999999999999999"])
def test_ids_beyond_any_row_are_a_json_404(api_client, kind, pk):
    response = api_client.get(f"/api/{kind}/{pk}/calendar.ics")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize("city", ["abc", "99999", "99999999999999999999999"])
def test_bad_or_unknown_city_is_a_json_400(api_client, city):
    session = SessionFactory()
    response = api_client.get(f"/api/series/{session.series_id}/calendar.ics", {"city": city})
    assert response.status_code == 400
    assert "city" in response.json()["fields"]


def test_series_feed_has_published_and_cancelled_sessions_but_no_drafts_or_other_series(api_client):
    published = SessionFactory()
    series = published.series
    cancelled = SessionFactory(series=series, status=Session.Status.CANCELLED)
    SessionFactory(series=series, status=Session.Status.DRAFT)
    SessionFactory()  # another series
    response = api_client.get(f"/api/series/{series.id}/calendar.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert uids(response.content) == {uid(published), uid(cancelled)}


def test_series_feed_can_be_limited_to_one_city(api_client):
    luoyang = SessionFactory()
    series = luoyang.series
    xian = CityFactory(organization=series.organization, name="Xi'an", local_name="西安")
    in_xian = SessionFactory(series=series, venue=VenueFactory(city=xian))
    body = api_client.get(f"/api/series/{series.id}/calendar.ics", {"city": xian.id}).content
    assert uids(body) == {uid(in_xian)}
    assert "西安" in str(events_by_uid(body)[uid(in_xian)]["LOCATION"])
    all_cities = api_client.get(f"/api/series/{series.id}/calendar.ics").content
    assert uids(all_cities) == {uid(luoyang), uid(in_xian)}


@pytest.mark.parametrize("path", ["session", "series"])
def test_conditional_request_with_the_etag_gets_304(api_client, path):
    session = SessionFactory()
    url = (
        f"/api/sessions/{session.id}/calendar.ics"
        if path == "session"
        else f"/api/series/{session.series_id}/calendar.ics"
    )
    first = api_client.get(url)
    again = api_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == first["ETag"]
    by_date = api_client.get(url, HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])
    assert by_date.status_code == 304
    stale = api_client.get(url, HTTP_IF_NONE_MATCH='"something-else"')
    assert stale.status_code == 200


def test_a_change_gives_a_new_etag_and_a_full_response(api_client):
    session = SessionFactory()
    url = f"/api/series/{session.series_id}/calendar.ics"
    first = api_client.get(url)
    session.title = "夜拍 moved indoors"
    session.save()
    after = api_client.get(url, HTTP_IF_NONE_MATCH=first["ETag"])
    assert after.status_code == 200
    assert after["ETag"] != first["ETag"]
    assert "夜拍 moved indoors" in after.content.decode()


def test_unchanged_feed_has_the_same_bytes_and_etag_when_rebuilt(api_client):
    """DTSTAMP is the row's revision time, not "now", so a rebuild after a cache loss is identical."""
    session = SessionFactory()
    url = f"/api/series/{session.series_id}/calendar.ics"
    first = api_client.get(url)
    version = selectors.calendar_version()
    cache.clear()
    selectors.local_feeds_clear()
    cache.set(selectors.VERSION_KEY, version, timeout=None)
    second = api_client.get(url)
    assert second.content == first.content
    assert second["ETag"] == first["ETag"]


def _make_series_with_sessions(count: int):
    series = SeriesFactory()
    venues = [
        VenueFactory(city=CityFactory(organization=series.organization, timezone=tz))
        for tz in ("Asia/Shanghai", "Asia/Urumqi")
    ]
    base = dt.datetime(2027, 1, 4, 12, tzinfo=dt.UTC)
    for index in range(count):
        start = base + dt.timedelta(days=index // 3, hours=index % 3)
        session = SessionFactory(
            series=series,
            venue=venues[index % 2],
            starts_at=start,
            ends_at=start + dt.timedelta(hours=1),
            status=Session.Status.CANCELLED if index % 10 == 0 else Session.Status.PUBLISHED,
        )
        if index % 7 == 0:
            StreamFactory(session=session)
    return series


def _queries_for(api_client, url: str) -> tuple[int, bytes]:
    cache.clear()
    selectors.local_feeds_clear()
    with CaptureQueriesContext(connection) as ctx:
        response = api_client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries), response.content


def test_series_feed_of_150_sessions_takes_as_many_queries_as_one_of_3(api_client):
    small = _make_series_with_sessions(3)
    large = _make_series_with_sessions(150)
    small_queries, _ = _queries_for(api_client, f"/api/series/{small.id}/calendar.ics")
    large_queries, body = _queries_for(api_client, f"/api/series/{large.id}/calendar.ics")
    assert body.count(b"BEGIN:VEVENT") == 150
    # fingerprint, series, then sessions with their streams and, once each, series, organization,
    # cities and venues
    assert large_queries == small_queries == 7


@pytest.fixture
def private_cache(settings):
    """A cache of this test's own: on Redis, parallel test workers flush the shared database
    (tests/conftest.py clears the cache around every test) and could empty it mid-test."""
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "calendars"}}


@pytest.mark.parametrize("memo", ["process memory", "shared cache"])
def test_unchanged_feed_is_served_from_the_cache_without_reading_its_sessions(api_client, private_cache, memo):
    series = _make_series_with_sessions(20)
    url = f"/api/series/{series.id}/calendar.ics"
    first = api_client.get(url)
    if memo == "shared cache":
        selectors.local_feeds_clear()  # as another process would find it
    with CaptureQueriesContext(connection) as ctx:
        again = api_client.get(url)
    assert again.content == first.content
    assert again["ETag"] == first["ETag"]
    assert len(ctx.captured_queries) == 1  # the fingerprint only
    assert "COUNT" in ctx.captured_queries[0]["sql"]


def test_cache_is_invalidated_by_a_change_to_one_of_its_sessions(api_client):
    series = _make_series_with_sessions(5)
    url = f"/api/series/{series.id}/calendar.ics"
    api_client.get(url)
    session = Session.objects.filter(series=series, status=Session.Status.PUBLISHED).first()
    session.starts_at += dt.timedelta(hours=1)
    session.ends_at += dt.timedelta(hours=1)
    session.sequence += 1
    session.save()
    event = events_by_uid(api_client.get(url).content)[uid(session)]
    assert event["DTSTART"].dt.astimezone(dt.UTC) == session.starts_at
    assert event["SEQUENCE"] == session.sequence


def test_cache_is_invalidated_when_a_venue_is_renamed_or_a_stream_gets_its_url(
    api_client, django_capture_on_commit_callbacks
):
    session = SessionFactory(kind=Session.Kind.LIVESTREAM)
    url = f"/api/series/{session.series_id}/calendar.ics"
    api_client.get(url)
    venue = session.venue
    venue.address = "2 Longmen Road 龙门大道"
    with django_capture_on_commit_callbacks(execute=True):
        venue.save()
    assert "2 Longmen Road 龙门大道" in str(events_by_uid(api_client.get(url).content)[uid(session)]["LOCATION"])
    with django_capture_on_commit_callbacks(execute=True):
        StreamFactory(session=session, playback_url="https://live.example.com/late.m3u8")
    assert "https://live.example.com/late.m3u8" in api_client.get(url).content.decode().replace("\r\n ", "")


def test_cache_is_invalidated_when_a_session_leaves_the_feed(api_client):
    session = SessionFactory()
    other = SessionFactory(series=session.series)
    url = f"/api/series/{session.series_id}/calendar.ics"
    assert uids(api_client.get(url).content) == {uid(session), uid(other)}
    Session.objects.filter(id=other.id).update(status=Session.Status.DRAFT)  # no signal, no updated_at
    assert uids(api_client.get(url).content) == {uid(session)}
