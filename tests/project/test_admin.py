import datetime as dt

import pytest

from events.demo import load_demo

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
