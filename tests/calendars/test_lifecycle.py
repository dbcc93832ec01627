"""One session followed through publish, move (time, then place) and cancel, through the public API,
checking every feed after each step: the series feed, the session's own .ics and a fan's private
feed, each read back with icalendar and with the independent ``ics`` parser."""

import datetime as dt
from urllib.parse import urlsplit

import pytest

from events.models import Session
from tests.calendars.ical import events_by_uid, ics_py_events
from tests.factories import SessionFactory, VenueFactory, organizer_of

pytestmark = pytest.mark.django_db


class Feeds:
    def __init__(self, api_client, fan_client, session: Session):
        self.api_client = api_client
        self.session_id = session.id
        self.uid = f"session-{session.id}@127.0.0.1"
        self.urls = {
            "series": f"/api/series/{session.series_id}/calendar.ics",
            "session": f"/api/sessions/{session.id}/calendar.ics",
        }
        self.fan_client = fan_client
        self.etags: dict[str, str] = {}

    def add_fan_feed(self) -> None:
        self.urls["fan"] = urlsplit(self.fan_client.get("/api/me/calendar-feed/").json()["url"]).path

    def read(self, name: str):
        """The event in feed ``name`` as icalendar and ``ics`` see it; also checks that the feed
        changed since the last read (the old ETag no longer matches) and answers 304 to its own."""
        url = self.urls[name]
        previous = self.etags.get(name)
        response = self.api_client.get(url, HTTP_IF_NONE_MATCH=previous or '"none"')
        assert response.status_code == 200, (name, response.status_code)
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        self.etags[name] = response["ETag"]
        assert self.api_client.get(url, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
        return events_by_uid(response.content).get(self.uid), ics_py_events(response.content).get(self.uid)


def backdate(session_id: int, hours: int = 1) -> None:
    """Let time pass between steps: LAST-MODIFIED has whole seconds, the steps of a test do not."""
    session = Session.objects.get(id=session_id)
    Session.objects.filter(id=session_id).update(updated_at=session.updated_at - dt.timedelta(hours=hours))


def test_feeds_follow_a_session_through_publish_move_and_cancel(api_client, as_user, fan):
    draft = SessionFactory(status=Session.Status.DRAFT, title="夜拍 龙门石窟 Longmen night shoot")
    organizer = organizer_of(draft.series.organization)
    organizer_client = as_user(organizer)
    fan_client = as_user(fan)
    feeds = Feeds(api_client, fan_client, draft)

    # Draft: in no public feed.
    assert feeds.read("series") == (None, None)
    assert api_client.get(feeds.urls["session"]).status_code == 404

    # Publish.
    response = organizer_client.post(f"/api/sessions/{draft.id}/publish/")
    assert response.status_code == 200, response.content
    published, theirs = feeds.read("series")
    assert str(published["STATUS"]) == "CONFIRMED" == theirs.status
    assert published["DTSTART"].dt.astimezone(dt.UTC) == draft.starts_at
    assert theirs.begin.to("UTC").datetime == draft.starts_at
    sequence = published["SEQUENCE"]
    assert fan_client.post(f"/api/sessions/{draft.id}/registrations/", {}).status_code == 201
    feeds.add_fan_feed()
    in_fan_feed, _ = feeds.read("fan")
    assert str(in_fan_feed["STATUS"]) == "CONFIRMED"
    single, _ = feeds.read("session")
    assert single["SEQUENCE"] == sequence
    backdate(draft.id)
    last_modified = feeds.read("series")[0]["LAST-MODIFIED"].dt

    # Move to another evening: new time in every feed, SEQUENCE and LAST-MODIFIED go up.
    new_start = draft.starts_at + dt.timedelta(days=2, hours=1)
    response = organizer_client.patch(
        f"/api/sessions/{draft.id}/",
        {"starts_at": new_start.isoformat(), "ends_at": (new_start + dt.timedelta(hours=2)).isoformat()},
    )
    assert response.status_code == 200, response.content
    for name in ("series", "session", "fan"):
        moved, theirs = feeds.read(name)
        assert moved["DTSTART"].dt.astimezone(dt.UTC) == new_start, name
        assert theirs.begin.to("UTC").datetime == new_start, name
        assert moved["SEQUENCE"] > sequence, name
        assert moved["LAST-MODIFIED"].dt > last_modified, name
        assert str(moved["STATUS"]) == "CONFIRMED", name
    sequence = moved["SEQUENCE"]
    backdate(draft.id)
    last_modified = feeds.read("series")[0]["LAST-MODIFIED"].dt

    # Move to another venue: new LOCATION and GEO, SEQUENCE up again.
    hall = VenueFactory(
        city=draft.city, name="洛阳博物馆 Luoyang Museum", address="Nietai Road 聂泰路", latitude=34.63, longitude=112.6
    )
    response = organizer_client.patch(f"/api/sessions/{draft.id}/", {"venue": hall.id})
    assert response.status_code == 200, response.content
    for name in ("series", "session", "fan"):
        moved, theirs = feeds.read(name)
        assert "洛阳博物馆 Luoyang Museum" in str(moved["LOCATION"]), name
        assert "Nietai Road 聂泰路" in theirs.location, name
        assert (moved["GEO"].latitude, moved["GEO"].longitude) == (34.63, 112.6), name
        assert moved["SEQUENCE"] > sequence, name
        assert moved["LAST-MODIFIED"].dt > last_modified, name
    sequence = moved["SEQUENCE"]
    backdate(draft.id)
    last_modified = feeds.read("series")[0]["LAST-MODIFIED"].dt

    # Cancel: the event stays in every feed, CANCELLED, with a higher SEQUENCE and the reason.
    response = organizer_client.post(f"/api/sessions/{draft.id}/cancel/", {"reason": "台风预警 Typhoon warning"})
    assert response.status_code == 200, response.content
    for name in ("series", "session", "fan"):
        cancelled, theirs = feeds.read(name)
        assert cancelled is not None, f"the cancelled session left the {name} feed"
        assert str(cancelled["STATUS"]) == "CANCELLED" == theirs.status, name
        assert cancelled["SEQUENCE"] > sequence, name
        assert cancelled["LAST-MODIFIED"].dt > last_modified, name
        assert "台风预警 Typhoon warning" in str(cancelled["DESCRIPTION"]), name
        assert cancelled["DTSTART"].dt.astimezone(dt.UTC) == new_start, name
        assert not cancelled.walk("VALARM"), name


def test_series_feed_follows_publishing_and_cancelling_a_whole_series(api_client, as_user):
    """Series publish writes with one UPDATE (no signal); series cancel cancels each session."""
    first = SessionFactory(status=Session.Status.DRAFT)
    later = first.starts_at + dt.timedelta(days=1)
    second = SessionFactory(
        series=first.series,
        venue=first.venue,
        status=Session.Status.DRAFT,
        starts_at=later,
        ends_at=later + dt.timedelta(hours=2),
    )
    organizer_client = as_user(organizer_of(first.series.organization))
    url = f"/api/series/{first.series_id}/calendar.ics"
    uids = {f"session-{first.id}@127.0.0.1", f"session-{second.id}@127.0.0.1"}
    assert events_by_uid(api_client.get(url).content) == {}

    response = organizer_client.post(f"/api/series/{first.series_id}/publish/")
    assert response.status_code == 200, response.content
    events = events_by_uid(api_client.get(url).content)
    assert set(events) == uids
    assert {str(e["STATUS"]) for e in events.values()} == {"CONFIRMED"}

    response = organizer_client.post(f"/api/series/{first.series_id}/cancel/", {"reason": "场地维修 Venue repairs"})
    assert response.status_code == 200, response.content
    cancelled = events_by_uid(api_client.get(url).content)
    assert set(cancelled) == uids
    for uid in uids:
        assert str(cancelled[uid]["STATUS"]) == "CANCELLED"
        assert cancelled[uid]["SEQUENCE"] > events[uid]["SEQUENCE"]
