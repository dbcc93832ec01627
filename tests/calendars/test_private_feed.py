"""A fan's private subscription: unguessable, works without login, revocable, and shows the
fan's own confirmed (CONFIRMED), waitlisted (TENTATIVE) and cancelled (CANCELLED) sessions."""

from urllib.parse import urlsplit

import pytest

from calendars.models import CalendarFeed
from calendars.selectors import local_feeds_clear
from events.models import Session
from registrations.models import Registration
from tests.calendars.ical import events_by_uid, ics_py_events
from tests.factories import RegistrationFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def feed_path(url: str) -> str:
    return urlsplit(url).path


def subscribe(as_user, fan) -> str:
    response = as_user(fan).get("/api/me/calendar-feed/")
    assert response.status_code == 200
    return response.json()["url"]


def test_feed_url_needs_a_login_to_obtain(api_client):
    response = api_client.get("/api/me/calendar-feed/")
    assert response.status_code in (401, 403)
    assert response.json()["code"] == "not_authenticated"


def test_feed_url_is_stable_unguessable_and_under_calendar_feed(as_user, fan, settings):
    settings.SITE_URL = "https://aperture.example"
    first = as_user(fan).get("/api/me/calendar-feed/").json()
    again = as_user(fan).get("/api/me/calendar-feed/").json()
    other = as_user(UserFactory()).get("/api/me/calendar-feed/").json()
    assert first["url"] == again["url"]
    assert first["url"].startswith("https://aperture.example/calendar/feed/")
    assert first["url"].endswith(".ics")
    assert first["webcal_url"] == first["url"].replace("https://", "webcal://")
    token = CalendarFeed.objects.get(user=fan).token
    assert len(token) >= 43  # 256 bits, base64url
    assert token in first["url"]
    assert other["url"] != first["url"]


def test_feed_works_without_login_and_shows_confirmed_and_waitlisted_as_tentative(as_user, api_client, fan):
    confirmed = RegistrationFactory(fan=fan).session
    waitlisted = RegistrationFactory(fan=fan, status=Registration.Status.WAITLISTED, waitlist_position=1).session
    RegistrationFactory()  # another fan's session
    left = RegistrationFactory(fan=fan, status=Registration.Status.CANCELLED).session
    url = subscribe(as_user, fan)
    response = api_client.get(feed_path(url))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert "private" in response["Cache-Control"]
    events = events_by_uid(response.content)
    assert set(events) == {f"session-{confirmed.id}@127.0.0.1", f"session-{waitlisted.id}@127.0.0.1"}
    assert str(events[f"session-{confirmed.id}@127.0.0.1"]["STATUS"]) == "CONFIRMED"
    assert str(events[f"session-{waitlisted.id}@127.0.0.1"]["STATUS"]) == "TENTATIVE"
    assert ics_py_events(response.content)[f"session-{waitlisted.id}@127.0.0.1"].status == "TENTATIVE"
    assert f"session-{left.id}@127.0.0.1" not in events


def test_cancelled_session_stays_in_the_fans_feed_as_cancelled(as_user, api_client, fan):
    session = SessionFactory(status=Session.Status.CANCELLED, sequence=4)
    RegistrationFactory(fan=fan, session=session, status=Registration.Status.CANCELLED)
    events = events_by_uid(api_client.get(feed_path(subscribe(as_user, fan))).content)
    event = events[f"session-{session.id}@127.0.0.1"]
    assert str(event["STATUS"]) == "CANCELLED"
    assert event["SEQUENCE"] == 4


def test_promotion_from_the_waitlist_shows_in_the_feed(as_user, api_client, fan):
    registration = RegistrationFactory(fan=fan, status=Registration.Status.WAITLISTED, waitlist_position=1)
    path = feed_path(subscribe(as_user, fan))
    key = f"session-{registration.session_id}@127.0.0.1"
    assert str(events_by_uid(api_client.get(path).content)[key]["STATUS"]) == "TENTATIVE"
    # The way registrations.services promotes: a queryset update (no signal).
    Registration.objects.filter(id=registration.id).update(status=Registration.Status.CONFIRMED, waitlist_ticket=None)
    assert str(events_by_uid(api_client.get(path).content)[key]["STATUS"]) == "CONFIRMED"


def test_revoking_issues_a_new_url_and_the_old_one_is_a_json_404(as_user, api_client, fan):
    RegistrationFactory(fan=fan)
    old = subscribe(as_user, fan)
    assert api_client.get(feed_path(old)).status_code == 200
    response = as_user(fan).delete("/api/me/calendar-feed/")
    assert response.status_code == 200
    new = response.json()["url"]
    assert new != old
    assert response.json()["rotated_at"] is not None
    gone = api_client.get(feed_path(old), HTTP_ACCEPT="text/calendar")
    assert gone.status_code == 404
    assert gone["Content-Type"] == "application/json"
    assert gone.json()["code"] == "not_found"
    assert api_client.get(feed_path(new)).status_code == 200
    assert subscribe(as_user, fan) == new


def test_revoking_before_ever_subscribing_gives_a_url(as_user, fan):
    response = as_user(fan).delete("/api/me/calendar-feed/")
    assert response.status_code == 200
    assert "/calendar/feed/" in response.json()["url"]


@pytest.mark.parametrize("token", ["x", "not-a-real-token-at-all-0123456789abcdefghijk", "a.b"])
def test_unknown_token_is_a_json_404(api_client, token):
    response = api_client.get(f"/calendar/feed/{token}.ics")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_deactivated_fans_feed_is_a_404(as_user, api_client, fan):
    path = feed_path(subscribe(as_user, fan))
    fan.is_active = False
    fan.save()
    assert api_client.get(path).status_code == 404


def test_feed_answers_304_to_a_conditional_request(as_user, api_client, fan):
    RegistrationFactory(fan=fan)
    path = feed_path(subscribe(as_user, fan))
    first = api_client.get(path)
    assert api_client.get(path, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 304
    RegistrationFactory(fan=fan)
    assert api_client.get(path, HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_a_logged_in_session_cookie_is_not_needed_nor_used(as_user, fan):
    """The token decides whose feed it is, not whoever is logged in."""
    mine = RegistrationFactory(fan=fan).session
    other = UserFactory()
    RegistrationFactory(fan=other)
    body = as_user(other).get(feed_path(subscribe(as_user, fan))).content
    assert set(events_by_uid(body)) == {f"session-{mine.id}@127.0.0.1"}


def test_fan_feed_takes_the_same_queries_for_2_or_30_sessions(as_user, api_client):
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counts = []
    for sessions in (2, 30):
        fan = UserFactory()
        for _ in range(sessions):
            RegistrationFactory(fan=fan)
        path = feed_path(subscribe(as_user, fan))
        cache.clear()
        local_feeds_clear()
        with CaptureQueriesContext(connection) as ctx:
            body = api_client.get(path).content
        assert body.count(b"BEGIN:VEVENT") == sessions
        counts.append(len(ctx.captured_queries))
    assert counts[0] == counts[1] == 3  # token, fingerprint, registrations with their sessions


def test_head_request_has_the_headers_and_no_body(as_user, api_client, fan):
    RegistrationFactory(fan=fan)
    response = api_client.head(feed_path(subscribe(as_user, fan)))
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["ETag"]
    assert response.content == b""
