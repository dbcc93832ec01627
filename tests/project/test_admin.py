import datetime as dt
import zoneinfo

import pytest

from frontend.demo import load_demo

pytestmark = pytest.mark.django_db

ADMIN_PAGES = [
    "/admin/",
    "/admin/events/series/",
    "/admin/events/session/",
    "/admin/events/session/?status__exact=published&kind__exact=night_shoot",
    "/admin/events/city/",
    "/admin/events/venue/",
    "/admin/registrations/registration/",
    "/admin/registrations/prioritycode/",
    "/admin/streams/stream/",
]


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_the_demo_organizer_can_plan_in_the_admin(client, path):
    load_demo(today=dt.date(2026, 11, 25))
    assert client.login(username="organizer", password="aperture-organizer")
    assert client.get(path).status_code == 200


def test_a_series_page_shows_its_sessions_inline(client):
    series = load_demo(today=dt.date(2026, 11, 25)).series
    client.login(username="organizer", password="aperture-organizer")
    response = client.get(f"/admin/events/series/{series.id}/change/")
    assert response.status_code == 200
    assert "龙门石窟".encode() in response.content


def test_organizers_see_only_their_own_organization_in_the_admin(client, organization):
    from tests.factories import SessionFactory

    load_demo(today=dt.date(2026, 11, 25))
    other = SessionFactory(title="Someone else's session")
    client.login(username="organizer", password="aperture-organizer")
    assert client.get(f"/admin/events/session/{other.id}/change/").status_code == 302
    assert b"Someone else" not in client.get("/admin/events/session/").content


def _session_form(session, **changes) -> dict:
    local = session.starts_at.astimezone(zoneinfo.ZoneInfo(session.timezone))
    end = session.ends_at.astimezone(zoneinfo.ZoneInfo(session.timezone))
    data = {
        "series": session.series_id,
        "kind": session.kind,
        "title": session.title,
        "description": session.description,
        "city": session.city_id,
        "venue": session.venue_id,
        "hosts": [h.id for h in session.hosts.all()],
        "starts_at_0": local.strftime("%Y-%m-%d"),
        "starts_at_1": local.strftime("%H:%M:%S"),
        "ends_at_0": end.strftime("%Y-%m-%d"),
        "ends_at_1": end.strftime("%H:%M:%S"),
        "capacity": session.capacity,
        "waitlist_enabled": "on",
        "priority_opens_at_0": "",
        "priority_opens_at_1": "",
        "registration_opens_at_0": "",
        "registration_opens_at_1": "",
        "registration_closes_at_0": "",
        "registration_closes_at_1": "",
    }
    data.update(changes)
    return data


@pytest.fixture
def demo_organizer_client(client):
    series = load_demo(today=dt.date(2026, 11, 25)).series
    client.login(username="organizer", password="aperture-organizer")
    # The admin shows and takes session times on the venue's clock, as the helper above sends them.
    return client, series


def _shoot(series):
    return series.sessions.filter(kind="night_shoot").order_by("starts_at").first()


def test_admin_reschedule_goes_through_the_planning_services(demo_organizer_client, settings, mailoutbox, run_jobs):
    from tests.factories import RegistrationFactory

    settings.TIME_ZONE = "Asia/Shanghai"
    client, series = demo_organizer_client
    shoot = _shoot(series)
    RegistrationFactory(session=shoot)
    later = (shoot.starts_at + dt.timedelta(minutes=30)).astimezone(zoneinfo.ZoneInfo("Asia/Shanghai"))
    response = client.post(
        f"/admin/events/session/{shoot.id}/change/",
        _session_form(shoot, starts_at_1=later.strftime("%H:%M:%S")),
        follow=True,
    )
    run_jobs()
    assert response.status_code == 200
    shoot.refresh_from_db()
    assert shoot.sequence == 1
    assert shoot.starts_at == later
    assert len(mailoutbox) == 1


def test_admin_shows_a_conflict_as_a_form_error_and_saves_nothing(demo_organizer_client, settings):
    settings.TIME_ZONE = "Asia/Shanghai"
    client, series = demo_organizer_client
    first, second = series.sessions.filter(kind="night_shoot").order_by("starts_at")[:2]
    before = second.starts_at
    # Put the second night shoot's host into the first one's slot, at the first one's venue.
    data = _session_form(
        second,
        venue=first.venue_id,
        city=first.city_id,
        starts_at_0=first.starts_at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d"),
        ends_at_0=first.ends_at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d"),
        starts_at_1=first.starts_at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S"),
        ends_at_1=first.ends_at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).strftime("%H:%M:%S"),
    )
    response = client.post(f"/admin/events/session/{second.id}/change/", data)
    assert response.status_code == 200  # the form again, with errors
    assert b"errornote" in response.content or b"errorlist" in response.content
    second.refresh_from_db()
    assert second.starts_at == before
    assert second.sequence == 0


def test_admin_cancel_action_asks_for_a_reason_then_cancels(demo_organizer_client, mailoutbox, run_jobs):
    from tests.factories import RegistrationFactory

    client, series = demo_organizer_client
    shoot = _shoot(series)
    RegistrationFactory(session=shoot)
    payload = {"action": "cancel_sessions", "_selected_action": [shoot.id]}
    asked = client.post("/admin/events/session/", payload)
    assert asked.status_code == 200 and b"reason" in asked.content
    client.post("/admin/events/session/", {**payload, "reason": "Typhoon warning"})
    run_jobs()
    shoot.refresh_from_db()
    assert shoot.status == "cancelled"
    assert shoot.cancel_reason == "Typhoon warning"
    assert len(mailoutbox) == 1


def test_admin_publish_action_publishes_drafts(demo_organizer_client):
    client, series = demo_organizer_client
    draft = series.sessions.filter(status="draft").first()
    client.post("/admin/events/session/", {"action": "publish_sessions", "_selected_action": [draft.id]})
    draft.refresh_from_db()
    assert draft.status == "published"


def test_typing_19_00_for_a_shanghai_venue_in_the_admin_stores_11_00_utc(demo_organizer_client, settings):
    settings.TIME_ZONE = "UTC"  # the server's zone plays no part
    client, series = demo_organizer_client
    talk = series.sessions.filter(kind="talk", venue__timezone="Asia/Shanghai").order_by("starts_at").last()
    day = talk.starts_at.astimezone(zoneinfo.ZoneInfo("Asia/Shanghai")).date()
    data = _session_form(
        talk,
        starts_at_0=day.isoformat(),
        starts_at_1="19:00:00",
        ends_at_0=day.isoformat(),
        ends_at_1="20:30:00",
    )
    response = client.post(f"/admin/events/session/{talk.id}/change/", data)
    assert response.status_code == 302, response.content.decode()[-3000:]
    talk.refresh_from_db()
    assert talk.starts_at == dt.datetime.combine(day, dt.time(11, 0), tzinfo=dt.UTC)
    page = client.get(f"/admin/events/session/{talk.id}/change/").content.decode()
    assert 'value="19:00:00"' in page
    assert "Beijing time (UTC+8)" in page
    listing = client.get("/admin/events/session/").content.decode()
    assert "19:00 Beijing time (UTC+8)" in listing


def test_the_admin_tells_each_conflict_once_with_names_not_ids(demo_organizer_client, settings):
    client, series = demo_organizer_client
    first, second = series.sessions.filter(kind="night_shoot").order_by("starts_at")[:2]
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    data = _session_form(
        second,
        venue=first.venue_id,
        city=first.city_id,
        starts_at_0=first.starts_at.astimezone(shanghai).strftime("%Y-%m-%d"),
        ends_at_0=first.ends_at.astimezone(shanghai).strftime("%Y-%m-%d"),
        starts_at_1=first.starts_at.astimezone(shanghai).strftime("%H:%M:%S"),
        ends_at_1=first.ends_at.astimezone(shanghai).strftime("%H:%M:%S"),
    )
    body = client.post(f"/admin/events/session/{second.id}/change/", data).content.decode()
    booked = body.count("is booked by")
    assert booked == 1, body
    assert f"session {first.id}" not in body and "Host " not in body
    assert first.title in body


def test_a_series_page_lists_its_month_in_venue_time_in_a_few_queries(demo_organizer_client):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client, series = demo_organizer_client
    first = series.sessions.order_by("starts_at").first()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(f"/admin/events/series/{series.id}/change/")
    assert response.status_code == 200
    assert len(queries) <= 12, len(queries)  # not one per session (there are 128)
    local = first.starts_at.astimezone(zoneinfo.ZoneInfo(first.timezone))
    assert f"{local:%H:%M}" in response.content.decode()
