"""The organizers' workspace (issue 12): month board, session forms, door, roster, host home."""

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from events.demo import load_demo
from events.models import Session
from tests.factories import (
    CityFactory,
    OrganizationFactory,
    RegistrationFactory,
    SessionFactory,
    VenueFactory,
    host_of,
    organizer_of,
)

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def demo():
    return load_demo(today=dt.date(2026, 11, 25)).series


def test_board_shows_the_demo_month_in_local_time_with_zone_and_hosts(demo):
    organizer = User.objects.get(username="organizer")
    response = client_for(organizer).get(f"/plan/{demo.id}/")
    assert response.status_code == 200
    body = response.content.decode()
    sessions = Session.objects.filter(series=demo)
    assert body.count('class="board-row ') == sessions.count() >= 127
    first = sessions.select_related("venue").first()
    local = first.starts_at.astimezone(zoneinfo.ZoneInfo(first.timezone))
    assert f"{local:%H:%M}" in body
    assert "Beijing time (UTC+8)" in body
    host = first.hosts.first()
    assert (host.get_full_name() or host.username) in body
    assert "0 conflicts" in body


def test_board_is_in_the_navigation_for_organizers_only(demo):
    organizer = User.objects.get(username="organizer")
    fan = User.objects.get(username="fan")
    assert 'href="/plan/"' in client_for(organizer).get("/").content.decode()
    assert 'href="/plan/"' not in client_for(fan).get("/").content.decode()
    assert client_for(fan).get(f"/plan/{demo.id}/").status_code == 404
    assert client_for(None).get(f"/plan/{demo.id}/").status_code == 302


def _series_with(n: int, organization, city: str = "Luoyang"):
    venue = VenueFactory(
        organization=organization,
        city=CityFactory(organization=organization, name=city, latitude=34.62, longitude=112.45),
    )
    host = host_of(venue.organization, first_name="Lei", last_name="Wang")
    first = SessionFactory(venue=venue, series__organization=venue.organization)
    start = first.starts_at
    for i in range(1, n):
        session = SessionFactory(
            venue=venue,
            series=first.series,
            starts_at=start + dt.timedelta(days=i),
            ends_at=start + dt.timedelta(days=i, hours=2),
        )
        session.hosts.set([host])
    return first.series


def test_board_query_count_does_not_grow_with_sessions():
    organization = OrganizationFactory()
    organizer = organizer_of(organization)
    small, large = _series_with(3, organization), _series_with(30, organization, city="Zhengzhou")
    client = client_for(organizer)
    counts = []
    for series in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/plan/{series.id}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_board_lists_conflicts_in_words_with_host_names_and_local_times():
    organization = OrganizationFactory()
    organizer = organizer_of(organization)
    series = _series_with(1, organization)
    session = series.sessions.get()
    host = host_of(organization, first_name="Lei", last_name="Wang")
    session.hosts.set([host])
    chengdu = VenueFactory(
        organization=series.organization,
        city=CityFactory(organization=series.organization, name="Chengdu", latitude=30.66, longitude=104.07),
    )
    later = SessionFactory(
        series=series,
        venue=chengdu,
        title="Chengdu after dark",
        starts_at=session.ends_at + dt.timedelta(hours=1),
        ends_at=session.ends_at + dt.timedelta(hours=3),
    )
    later.hosts.set([host])
    body = client_for(organizer).get(f"/plan/{series.id}/").content.decode()
    assert "1 conflict" in body
    assert "Lei Wang cannot travel Luoyang -&gt; Chengdu in time" in body
    assert "has 1 h." in body
    local_end = later.starts_at.astimezone(SHANGHAI)
    assert f"{local_end:%H:%M}" in body


# --- Door check-in -----------------------------------------------------------------------------


def test_door_page_is_for_the_sessions_hosts_and_organizers():
    organization = OrganizationFactory()
    host = host_of(organization)
    session = SessionFactory(series__organization=organization, hosts=[host])
    other_host = host_of(OrganizationFactory())
    assert client_for(host).get(f"/door/{session.id}/").status_code == 200
    assert client_for(organizer_of(organization)).get(f"/door/{session.id}/").status_code == 200
    assert client_for(other_host).get(f"/door/{session.id}/").status_code == 403
    assert client_for(None).get(f"/door/{session.id}/").status_code == 302


def test_door_page_shows_the_count_and_loads_jsqr_from_this_site_only():
    organization = OrganizationFactory()
    host = host_of(organization)
    session = SessionFactory(series__organization=organization, hosts=[host])
    RegistrationFactory(session=session)
    body = client_for(host).get(f"/door/{session.id}/").content.decode()
    assert "data-checked-in>0<" in body and "data-confirmed>1<" in body
    assert 'data-jsqr-src="/static/frontend/vendor/jsqr-1.4.0/jsQR.js"' in body
    assert "<script>" not in body and "style=" not in body


def test_my_sessions_shows_the_short_code_grouped_for_reading():
    registration = RegistrationFactory()
    registration.checkin_code = "7K3M9XQ2HR4T"
    registration.save(update_fields=["checkin_code"])
    body = client_for(registration.fan).get("/sessions/mine/").content.decode()
    assert "7K3M-9XQ2-HR4T" in body


# --- Session forms -----------------------------------------------------------------------------


@pytest.fixture
def planned():
    """An organizer, a Luoyang venue (Asia/Shanghai) and a series with one session."""
    organization = OrganizationFactory()
    luoyang = CityFactory(
        organization=organization, name="Luoyang", local_name="洛阳", latitude=34.62, longitude=112.45
    )
    venue = VenueFactory(organization=organization, city=luoyang, name="Longmen Hall", timezone="Asia/Shanghai")
    session = SessionFactory(series__organization=organization, venue=venue, title="Grottoes by night")
    return {"organizer": organizer_of(organization), "venue": venue, "series": session.series, "session": session}


def _form(venue, day: dt.date, start: str, end: str, **extra) -> dict:
    return {
        "kind": "talk",
        "title": "Light over the Yi river",
        "city": venue.city_id,
        "venue": venue.id,
        "date": day.isoformat(),
        "start": start,
        "end": end,
        "capacity": 20,
        "waitlist_enabled": "on",
        **extra,
    }


def test_typing_19_00_for_a_shanghai_venue_stores_11_00_utc(planned):
    day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=40)).date()
    client = client_for(planned["organizer"])
    response = client.post(
        f"/plan/{planned['series'].id}/sessions/new/", _form(planned["venue"], day, "19:00", "21:00", save="1")
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    created = Session.objects.get(title="Light over the Yi river")
    assert created.starts_at == dt.datetime.combine(day, dt.time(11, 0), tzinfo=dt.UTC)
    assert created.ends_at == dt.datetime.combine(day, dt.time(13, 0), tzinfo=dt.UTC)
    assert created.status == Session.Status.DRAFT
    page = client.get(f"/plan/sessions/{created.id}/").content.decode()
    assert 'value="19:00"' in page and "Beijing time (UTC+8)" in page


def test_an_end_before_the_start_is_the_next_day(planned):
    day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=41)).date()
    client_for(planned["organizer"]).post(
        f"/plan/{planned['series'].id}/sessions/new/", _form(planned["venue"], day, "22:30", "01:00", save="1")
    )
    created = Session.objects.get(title="Light over the Yi river")
    assert created.ends_at - created.starts_at == dt.timedelta(hours=2, minutes=30)


def test_a_conflicting_move_is_explained_once_in_local_time_and_saves_nothing(planned):
    session = planned["session"]
    other_start = session.starts_at + dt.timedelta(days=1)
    other = SessionFactory(
        series=planned["series"],
        venue=planned["venue"],
        title="Other talk",
        starts_at=other_start,
        ends_at=other_start + dt.timedelta(hours=2),
    )
    local = other.starts_at.astimezone(SHANGHAI)
    before = (session.starts_at, session.sequence)
    data = _form(planned["venue"], local.date(), f"{local:%H:%M}", f"{local + dt.timedelta(hours=1):%H:%M}")
    data["title"] = session.title
    for button in ("check", "save"):
        response = client_for(planned["organizer"]).post(f"/plan/sessions/{session.id}/", {**data, button: "1"})
        assert response.status_code == 200
        body = response.content.decode()
        assert "Not saved: 1 conflict." in body
        assert body.count("is booked by") == 1
        assert f"“Other talk” ({local:%a} {local.day} {local:%b} {local.year}, {local:%H:%M}" in body
        session.refresh_from_db()
        assert (session.starts_at, session.sequence) == before


def test_check_without_conflict_saves_nothing_and_says_so(planned):
    session = planned["session"]
    local = session.starts_at.astimezone(SHANGHAI) + dt.timedelta(days=3)
    data = {**_form(planned["venue"], local.date(), "20:00", "22:00"), "title": session.title, "check": "1"}
    body = client_for(planned["organizer"]).post(f"/plan/sessions/{session.id}/", data).content.decode()
    assert "No conflicts. Nothing is saved until you press Save." in body
    session.refresh_from_db()
    assert session.starts_at.astimezone(SHANGHAI).date() != local.date()


def test_a_move_from_the_board_is_recorded_and_bumps_the_calendar_sequence(planned):
    session = planned["session"]
    old_start = session.starts_at
    local = session.starts_at.astimezone(SHANGHAI) + dt.timedelta(days=2)
    data = {**_form(planned["venue"], local.date(), "20:00", "22:00"), "title": session.title, "save": "1"}
    assert client_for(planned["organizer"]).post(f"/plan/sessions/{session.id}/", data).status_code == 302
    session.refresh_from_db()
    assert session.sequence == 1
    assert session.moved_at is not None and session.moved_from_starts_at == old_start


def test_publish_and_cancel_with_a_reason_from_the_workspace(planned):
    session = planned["session"]
    session.status = Session.Status.DRAFT
    session.save(update_fields=["status"])
    client = client_for(planned["organizer"])
    assert client.post(f"/plan/sessions/{session.id}/publish/").status_code == 302
    session.refresh_from_db()
    assert session.status == Session.Status.PUBLISHED
    empty = client.post(f"/plan/sessions/{session.id}/cancel/", {"reason": " "})
    assert empty.status_code == 200
    session.refresh_from_db()
    assert session.status == Session.Status.PUBLISHED
    assert client.post(f"/plan/sessions/{session.id}/cancel/", {"reason": "Storm warning"}).status_code == 302
    session.refresh_from_db()
    assert (session.status, session.cancel_reason) == (Session.Status.CANCELLED, "Storm warning")


def test_the_session_form_offers_the_organizations_hosts_by_name_and_venues_by_city(planned):
    organization = planned["series"].organization
    host_of(organization, first_name="Lei", last_name="Wang")
    host_of(OrganizationFactory(), first_name="Outside", last_name="Person")
    body = client_for(planned["organizer"]).get(f"/plan/{planned['series'].id}/sessions/new/").content.decode()
    assert "Lei Wang" in body and "Outside Person" not in body
    assert f'data-city="{planned["venue"].city_id}"' in body
    assert 'data-zone="Beijing time (UTC+8)"' in body


def test_other_organizers_cannot_open_the_forms(planned):
    stranger = organizer_of(OrganizationFactory())
    client = client_for(stranger)
    assert client.get(f"/plan/{planned['series'].id}/sessions/new/").status_code == 404
    assert client.get(f"/plan/sessions/{planned['session'].id}/").status_code == 404
    assert client.post(f"/plan/sessions/{planned['session'].id}/cancel/", {"reason": "x"}).status_code == 404
