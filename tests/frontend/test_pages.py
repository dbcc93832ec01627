import datetime as dt
import html
import re
from urllib.parse import unquote

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import User
from events.models import Session
from registrations.models import Registration, checkin_code_grouped
from tests.factories import (
    CityFactory,
    RegistrationFactory,
    SessionFactory,
    StreamFactory,
    UserFactory,
    VenueFactory,
    host_of,
    organizer_of,
)

pytestmark = pytest.mark.django_db


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def session_in(city_name: str, local_name: str, lat: float, lon: float, **kwargs) -> Session:
    venue = VenueFactory(city=CityFactory(name=city_name, local_name=local_name, latitude=lat, longitude=lon))
    return SessionFactory(venue=venue, series__organization=venue.organization, **kwargs)


# --- Home -----------------------------------------------------------------------------------


def test_home_lists_upcoming_published_sessions_only():
    upcoming = SessionFactory(title="Light after dark in 洛阳")
    SessionFactory(title="A draft nobody sees", status=Session.Status.DRAFT)
    SessionFactory(title="A cancelled one", status=Session.Status.CANCELLED)
    past_start = timezone.now() - dt.timedelta(days=2)
    SessionFactory(
        title="Already happened",
        starts_at=past_start,
        registration_opens_at=past_start - dt.timedelta(days=3),
        registration_closes_at=past_start - dt.timedelta(hours=1),
        priority_opens_at=past_start - dt.timedelta(days=4),
    )
    response = Client().get("/")
    assert response.status_code == 200
    body = response.content.decode()
    assert "Light after dark in 洛阳" in body
    assert f'href="/sessions/{upcoming.id}/"' in body
    assert "A draft nobody sees" not in body
    assert "A cancelled one" not in body
    assert "Already happened" not in body


def test_home_shows_city_names_in_both_languages():
    session_in("Luoyang", "洛阳", 34.62, 112.45, title="Grotto night")
    body = Client().get("/").content.decode()
    assert "Luoyang" in body
    assert '<span class="city-local" lang="zh-Hans">洛阳</span>' in body
    assert "Luoyang 洛阳" in body  # the city filter's option


def test_home_filters_by_city_kind_and_text():
    luoyang = session_in("Luoyang", "洛阳", 34.62, 112.45, title="Grotto talk")
    shoot = session_in("Xi'an", "西安", 34.34, 108.94, title="City wall night shoot", kind=Session.Kind.NIGHT_SHOOT)
    client = Client()

    by_city = client.get("/", {"city": luoyang.city_id}).content.decode()
    assert "Grotto talk" in by_city and "City wall night shoot" not in by_city

    by_kind = client.get("/", {"kind": "night_shoot"}).content.decode()
    assert "City wall night shoot" in by_kind and "Grotto talk" not in by_kind

    by_chinese_text = client.get("/", {"q": "西安"}).content.decode()
    assert "City wall night shoot" in by_chinese_text and "Grotto talk" not in by_chinese_text
    assert shoot.id


def test_home_date_filter_uses_the_venues_local_day():
    # 23:30 on 10 Dec in Beijing is 15:30 UTC on 10 Dec; 00:30 on 11 Dec in Beijing is still 10 Dec in UTC.
    base = (timezone.now() + dt.timedelta(days=60)).replace(hour=0, minute=0, second=0, microsecond=0)
    late = SessionFactory(title="Late on the 1st", starts_at=base + dt.timedelta(hours=15, minutes=30))
    after_midnight = SessionFactory(title="Just after midnight", starts_at=base + dt.timedelta(hours=16, minutes=30))
    local_day = (base + dt.timedelta(hours=15, minutes=30)).astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    body = Client().get("/", {"date_from": local_day.isoformat(), "date_to": local_day.isoformat()}).content.decode()
    assert late.title in body
    assert after_midnight.title not in body


def test_home_near_sorts_by_distance_from_the_given_point():
    far = session_in(
        "Harbin", "哈尔滨", 45.80, 126.53, title="Ice lanterns", starts_at=timezone.now() + dt.timedelta(days=3)
    )
    near = session_in(
        "Luoyang", "洛阳", 34.62, 112.45, title="Grotto night", starts_at=timezone.now() + dt.timedelta(days=9)
    )
    middle = session_in(
        "Beijing", "北京", 39.90, 116.41, title="Hutong dusk", starts_at=timezone.now() + dt.timedelta(days=5)
    )
    body = Client().get("/", {"near": "34.70,112.40"}).content.decode()
    positions = [body.index(s.title) for s in (near, middle, far)]
    assert positions == sorted(positions)
    assert "near you" in body  # Luoyang, 9 km
    assert "km away" in body


def test_home_bad_filters_are_reported_not_a_server_error():
    SessionFactory(title="Still listed")
    response = Client().get("/", {"city": "abc", "date_from": "not-a-date", "near": "999,1", "kind": "party"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "Still listed" in body
    assert "(ignored)" in body


def test_home_links_streams_that_are_live_now():
    live = StreamFactory(status="live", session__title="Grotto tour live")
    StreamFactory(status="scheduled", session__title="Later stream")
    body = Client().get("/").content.decode()
    assert body.count("Live now") == 1
    assert f'href="/streams/{live.id}/"' in body


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "0001-01-01"},
        {"date_to": "9999-12-31"},
        {"city": "99999999999999999999999"},
        {"near": "nan,nan"},
        {"near": "inf,1"},
        {"page": "99999"},
        {"q": "x" * 5000},
        {"date_from": "2026-12-10", "date_to": "2026-12-01"},
    ],
)
def test_home_survives_hostile_query_strings(params):
    SessionFactory(title="Still listed")
    response = Client().get("/", params)
    assert response.status_code == 200
    assert "Still listed" in response.content.decode() or "page" in params


def test_home_paginates_and_keeps_the_filters_in_page_links():
    for _ in range(35):
        SessionFactory(kind=Session.Kind.TALK)
    body = Client().get("/", {"kind": "talk"}).content.decode()
    assert body.count('class="card"') == 30
    assert 'href="?kind=talk&amp;page=2"' in body
    second = Client().get("/", {"kind": "talk", "page": "2"}).content.decode()
    assert second.count('class="card"') == 5
    assert "Page 2 of 2" in second


def test_home_marks_the_fans_own_registrations():
    fan = UserFactory()
    mine = SessionFactory(title="Mine")
    SessionFactory(title="Not mine")
    RegistrationFactory(session=mine, fan=fan)
    body = client_for(fan).get("/").content.decode()
    assert body.count("You're registered") == 1


def _queries_for(client: Client, url: str) -> int:
    with CaptureQueriesContext(connection) as context:
        assert client.get(url).status_code == 200
    return len(context)


def test_home_query_count_does_not_grow_with_the_number_of_sessions():
    fan = UserFactory()
    first = SessionFactory(hosts=[UserFactory()])
    StreamFactory(session=first)
    RegistrationFactory(session=first, fan=fan)
    client = client_for(fan)
    one = _queries_for(client, "/")
    for _ in range(40):
        SessionFactory(hosts=[UserFactory(), UserFactory()])
    forty_one = _queries_for(client, "/")
    # session, user, memberships, cities, the count and one page of sessions (+venue, city, stream),
    # hosts, the fan's registrations, the bell's unread count
    assert one == forty_one <= 9


# --- Session page ------------------------------------------------------------------------------


def test_session_page_shows_the_venues_local_time_and_seats():
    session = SessionFactory(capacity=30, confirmed_count=12)
    response = Client().get(f"/sessions/{session.id}/")
    assert response.status_code == 200
    body = response.content.decode()
    local = session.starts_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    assert local.strftime("%H:%M") in body
    assert "Beijing time (UTC+8)" in body
    assert "<strong>18</strong> of 30 seats left" in body


def test_session_page_offers_google_outlook_and_ics_with_utc_times():
    session = SessionFactory()
    body = Client().get(f"/sessions/{session.id}/").content.decode()
    start = session.starts_at.astimezone(dt.UTC)
    assert f'href="/api/sessions/{session.id}/calendar.ics"' in body
    google = re.search(r'href="(https://calendar\.google\.com/[^"]+)"', body).group(1)
    assert f"dates={start:%Y%m%dT%H%M%SZ}" in html.unescape(google)
    outlook = re.search(r'href="(https://outlook\.live\.com/[^"]+)"', body).group(1)
    assert f"startdt={start:%Y-%m-%dT%H:%M:%SZ}" in unquote(html.unescape(outlook))


def test_anonymous_visitor_is_asked_to_log_in_before_registering():
    session = SessionFactory()
    body = Client().get(f"/sessions/{session.id}/").content.decode()
    assert f"/accounts/login/?next=/sessions/{session.id}/" in body
    assert 'data-action="register"' not in body


def test_signed_in_fan_sees_the_register_form_with_the_api_url():
    session = SessionFactory()
    body = client_for(UserFactory()).get(f"/sessions/{session.id}/").content.decode()
    assert f'data-url="/api/sessions/{session.id}/registrations/"' in body
    assert 'name="priority_code"' in body
    assert 'name="csrf-token"' in body


def test_full_session_offers_the_waitlist():
    session = SessionFactory(capacity=2, confirmed_count=2, waitlist_count=3)
    body = client_for(UserFactory()).get(f"/sessions/{session.id}/").content.decode()
    assert "Join the waitlist" in body
    assert "3 waiting" in body


def test_registered_fan_sees_status_and_cancel_button():
    fan = UserFactory()
    registration = RegistrationFactory(fan=fan)
    body = client_for(fan).get(f"/sessions/{registration.session_id}/").content.decode()
    assert "You're registered" in body
    assert f'data-url="/api/registrations/{registration.id}/"' in body
    assert 'data-action="register"' not in body


def test_waitlisted_fan_sees_position():
    fan = UserFactory()
    registration = RegistrationFactory(fan=fan, status=Registration.Status.WAITLISTED, waitlist_position=4)
    for ticket in (1, 2, 3):  # positions are counted when read: three parties wait ahead
        RegistrationFactory(
            session=registration.session, status=Registration.Status.WAITLISTED, waitlist_position=ticket
        )
    body = client_for(fan).get(f"/sessions/{registration.session_id}/").content.decode()
    assert "on the waitlist, #4" in body


def test_priority_window_asks_for_a_code():
    now = timezone.now()
    session = SessionFactory(
        registration_opens_at=now + dt.timedelta(days=2), priority_opens_at=now - dt.timedelta(hours=1)
    )
    body = client_for(UserFactory()).get(f"/sessions/{session.id}/").content.decode()
    assert "Early access for priority code holders" in body
    assert 'name="priority_code" autocomplete="off"' in body and "required" in body


def test_registration_not_open_yet_shows_when_it_opens():
    now = timezone.now()
    session = SessionFactory(registration_opens_at=now + dt.timedelta(days=2), priority_opens_at=None)
    body = client_for(UserFactory()).get(f"/sessions/{session.id}/").content.decode()
    assert "Registration opens" in body
    assert 'data-action="register"' not in body


def test_cancelled_session_shows_reason_and_no_register_button():
    session = SessionFactory(status=Session.Status.CANCELLED, cancel_reason="Typhoon warning.")
    body = client_for(UserFactory()).get(f"/sessions/{session.id}/").content.decode()
    assert "This session is cancelled." in body and "Typhoon warning." in body
    assert 'data-action="register"' not in body


def test_registered_fan_of_a_cancelled_session_has_nothing_to_cancel():
    fan = UserFactory()
    registration = RegistrationFactory(fan=fan, session__status=Session.Status.CANCELLED)
    body = client_for(fan).get(f"/sessions/{registration.session_id}/").content.decode()
    assert "This session is cancelled." in body
    assert 'data-action="cancel"' not in body


def test_draft_session_is_404_for_fans_and_visible_to_its_organizers():
    session = SessionFactory(status=Session.Status.DRAFT)
    assert Client().get(f"/sessions/{session.id}/").status_code == 404
    assert client_for(UserFactory()).get(f"/sessions/{session.id}/").status_code == 404
    organizer = organizer_of(session.series.organization)
    response = client_for(organizer).get(f"/sessions/{session.id}/")
    assert response.status_code == 200
    assert "Draft (not public)" in response.content.decode()


def test_unknown_session_is_an_html_404_page():
    response = Client().get("/sessions/999999/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
    assert "Not found" in response.content.decode()


def test_session_page_links_its_stream():
    stream = StreamFactory()
    body = Client().get(f"/sessions/{stream.session_id}/").content.decode()
    assert f'href="/streams/{stream.id}/"' in body


# --- Accounts -----------------------------------------------------------------------------------


def test_signup_creates_a_fan_logs_in_and_goes_to_next():
    session = SessionFactory()
    client = Client()
    response = client.post(
        "/accounts/signup/",
        {
            "username": "xiaoming",
            "email": "xm@example.com",
            "password": "night-shoot-2026",
            "next": f"/sessions/{session.id}/",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == f"/sessions/{session.id}/"
    assert User.objects.filter(username="xiaoming").exists()
    assert "Log out" in client.get("/").content.decode()


def test_signup_shows_the_services_errors_on_the_form():
    UserFactory(username="taken")
    response = Client().post("/accounts/signup/", {"username": "Taken", "email": "x@example.com", "password": "123"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "That username is taken." in body
    assert User.objects.filter(username__iexact="taken").count() == 1


def test_signup_refuses_a_weak_password():
    response = Client().post(
        "/accounts/signup/", {"username": "newfan", "email": "n@example.com", "password": "12345678"}
    )
    assert response.status_code == 200
    assert not User.objects.filter(username="newfan").exists()
    assert "password" in response.content.decode().lower()


def test_signup_ignores_an_offsite_next():
    response = Client().post(
        "/accounts/signup/",
        {
            "username": "fan2",
            "email": "f2@example.com",
            "password": "night-shoot-2026",
            "next": "https://evil.example/",
        },
    )
    assert response.status_code == 302
    assert response["Location"] == "/sessions/mine/"


def test_login_page_logs_in_and_logout_logs_out():
    UserFactory(username="ming")
    client = Client()
    assert client.get("/accounts/login/").status_code == 200
    response = client.post("/accounts/login/", {"username": "ming", "password": "correct-horse-battery"})
    assert response.status_code == 302
    assert response["Location"] == "/sessions/mine/"
    assert client.get("/sessions/mine/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 302
    assert client.get("/sessions/mine/").status_code == 302


def test_login_with_a_wrong_password_shows_an_error():
    UserFactory(username="ming")
    response = Client().post("/accounts/login/", {"username": "ming", "password": "nope"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()


# --- My sessions --------------------------------------------------------------------------------


def test_my_sessions_requires_login():
    response = Client().get("/sessions/mine/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/sessions/mine/")


def test_my_sessions_lists_only_my_active_registrations_with_checkin_code():
    fan, other = UserFactory(), UserFactory()
    confirmed = RegistrationFactory(fan=fan, session__title="My confirmed one")
    waitlisted = RegistrationFactory(
        fan=fan, session__title="My waitlisted one", status=Registration.Status.WAITLISTED, waitlist_position=2
    )
    RegistrationFactory(session=waitlisted.session, status=Registration.Status.WAITLISTED, waitlist_position=1)
    RegistrationFactory(fan=fan, session__title="I cancelled this", status=Registration.Status.CANCELLED)
    theirs = RegistrationFactory(fan=other, session__title="Someone else's")
    body = client_for(fan).get("/sessions/mine/").content.decode()
    assert "My confirmed one" in body and checkin_code_grouped(confirmed.checkin_code) in body
    assert f'src="/api/registrations/{confirmed.id}/qr.svg"' in body
    assert f"/api/registrations/{waitlisted.id}/qr." not in body  # only a confirmed seat has a ticket
    assert "My waitlisted one" in body and "Waitlisted #2" in body and waitlisted.checkin_code not in body
    assert "I cancelled this" not in body
    assert body.count("https://calendar.google.com/") == 2 and body.count("https://outlook.live.com/") == 2
    assert 'data-url="/api/me/calendar-feed/"' in body
    assert "Someone else's" not in body and theirs.checkin_code not in body


def test_my_sessions_query_count_is_constant():
    fan = UserFactory()
    RegistrationFactory(fan=fan)
    client = client_for(fan)
    one = _queries_for(client, "/sessions/mine/")
    for _ in range(10):
        RegistrationFactory(fan=fan)
    StreamFactory(session=RegistrationFactory(fan=fan).session)
    # session, user, memberships (the navigation's workspace links), registrations with their
    # sessions, venues, cities and streams, the bell's unread count
    assert one == _queries_for(client, "/sessions/mine/") <= 5


# --- Streams ------------------------------------------------------------------------------------


def test_stream_page_is_public_and_wires_the_viewer_websocket():
    stream = StreamFactory(peak=40, total_views=120, status="live")
    response = Client().get(f"/streams/{stream.id}/")
    assert response.status_code == 200
    body = response.content.decode()
    assert f'data-ws-path="/ws/streams/{stream.id}/"' in body
    assert ">0</strong> watching now" in body  # nobody is connected
    assert '<span data-field="peak">40</span>' in body and '<span data-field="total_views">120</span>' in body
    assert "live.js" in body
    assert "Host dashboard" not in body


def test_stream_of_a_draft_session_is_hidden():
    stream = StreamFactory(session__status=Session.Status.DRAFT)
    assert Client().get(f"/streams/{stream.id}/").status_code == 404


def test_host_dashboard_is_for_the_streams_hosts_and_organizers_only():
    stream = StreamFactory()
    organization = stream.organization
    stream_host = host_of(organization)
    stream.hosts.add(stream_host)
    url = f"/streams/{stream.id}/host/"

    anonymous = Client().get(url)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/accounts/login/")
    assert client_for(UserFactory()).get(url).status_code == 403
    assert client_for(host_of(organization)).get(url).status_code == 403  # a host, but not of this stream
    assert client_for(organizer_of(CityFactory().organization)).get(url).status_code == 403  # another organization

    for allowed in (stream_host, organizer_of(organization)):
        response = client_for(allowed).get(url)
        assert response.status_code == 200
        assert f'data-ws-path="/ws/streams/{stream.id}/host/"' in response.content.decode()


def test_stream_page_links_the_dashboard_for_its_hosts():
    stream = StreamFactory()
    host = UserFactory()
    stream.hosts.add(host)
    assert "Host dashboard" in client_for(host).get(f"/streams/{stream.id}/").content.decode()


def test_static_files_are_served():
    for name in ("site.css", "app.js", "live.js"):
        response = Client().get(f"/static/frontend/{name}")
        body = b"".join(response.streaming_content)
        response.close()
        assert response.status_code == 200, name
        assert body.strip(), name


@pytest.fixture
def small_rates(monkeypatch):
    rates = {**SimpleRateThrottle.THROTTLE_RATES, "login": "5/min", "signup": "3/hour"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


@pytest.mark.throttled
def test_login_page_shares_the_apis_login_throttle(small_rates):
    UserFactory(username="ming")
    client = Client()
    for _ in range(2):
        client.post("/api/auth/token/", {"username": "ming", "password": "guess"}, content_type="application/json")
    statuses = [
        client.post("/accounts/login/", {"username": "ming", "password": "guess"}).status_code for _ in range(4)
    ]
    assert statuses == [200, 200, 200, 429]  # 2 API + 3 page attempts use up the 5 per minute
    refused = client.post("/accounts/login/", {"username": "ming", "password": "correct-horse-battery"})
    assert refused.status_code == 429
    assert "Too many attempts" in refused.content.decode() and int(refused["Retry-After"]) > 0
    assert "_auth_user_id" not in client.session
    assert client.get("/accounts/login/").status_code == 200  # only attempts count


@pytest.mark.throttled
def test_signup_page_is_throttled_per_address(small_rates):
    client = Client()
    for n in range(3):
        client.post("/accounts/signup/", {"username": f"bot{n}", "email": "b@example.com", "password": "weak"})
    response = client.post(
        "/accounts/signup/", {"username": "onemore", "email": "o@example.com", "password": "night-shoot-2026"}
    )
    assert response.status_code == 429
    assert not User.objects.filter(username="onemore").exists()


@pytest.mark.parametrize("path", ["/sessions/{}/", "/streams/{}/", "/streams/{}/host/"])
def test_ids_beyond_any_database_integer_are_404(path):
    response = client_for(UserFactory()).get(path.format(10**30))
    assert response.status_code == 404
