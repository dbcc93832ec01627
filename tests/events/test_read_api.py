import pytest

from events.models import Session
from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def test_anonymous_sees_published_sessions_but_not_drafts(api_client):
    published = SessionFactory()
    SessionFactory(status=Session.Status.DRAFT)
    response = api_client.get("/api/sessions/")
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["results"]] == [published.id]


def test_session_times_are_shown_in_the_venues_time_zone(api_client):
    session = SessionFactory()
    body = api_client.get(f"/api/sessions/{session.id}/").json()
    assert body["starts_at"].endswith("+08:00")
    assert body["timezone"] == "Asia/Shanghai"
    assert body["seats_left"] == 30


def test_unknown_session_is_a_json_404(api_client):
    response = api_client.get("/api/sessions/999999/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_non_numeric_id_is_a_json_404(api_client):
    response = api_client.get("/api/sessions/abc/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")


def test_time_filter_without_offset_is_refused(api_client):
    response = api_client.get("/api/sessions/?starts_after=2026-12-01T19:00:00")
    assert response.status_code == 400
    assert "starts_after" in response.json()["fields"]


def ids(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [s["id"] for s in response.json()["results"]]


def test_organizers_see_their_own_drafts_but_not_other_organizations(as_user, organization, organizer):
    own_draft = SessionFactory(series__organization=organization, status=Session.Status.DRAFT)
    SessionFactory(status=Session.Status.DRAFT)
    assert ids(as_user(organizer).get("/api/sessions/")) == [own_draft.id]


def test_hosts_see_drafts_they_host(as_user, host):
    draft = SessionFactory(status=Session.Status.DRAFT, hosts=[host])
    assert ids(as_user(host).get("/api/sessions/")) == [draft.id]


def test_cancelled_sessions_stay_visible(api_client):
    cancelled = SessionFactory(status=Session.Status.CANCELLED)
    assert ids(api_client.get("/api/sessions/")) == [cancelled.id]


def test_filters_by_series_city_and_kind(api_client):
    talk = SessionFactory()
    shoot = SessionFactory(kind=Session.Kind.NIGHT_SHOOT)
    assert ids(api_client.get(f"/api/sessions/?series={talk.series_id}")) == [talk.id]
    assert ids(api_client.get(f"/api/sessions/?city={shoot.city_id}")) == [shoot.id]
    assert ids(api_client.get("/api/sessions/?kind=night_shoot")) == [shoot.id]


def test_filters_by_start_time_with_offsets(api_client):
    import datetime as dt

    early = SessionFactory()
    late = SessionFactory(starts_at=early.starts_at + dt.timedelta(days=3))
    boundary = (early.starts_at + dt.timedelta(days=1)).astimezone(dt.timezone(dt.timedelta(hours=8))).isoformat()
    from urllib.parse import quote

    assert ids(api_client.get(f"/api/sessions/?starts_after={quote(boundary)}")) == [late.id]
    assert ids(api_client.get(f"/api/sessions/?starts_before={quote(boundary)}")) == [early.id]


def test_available_means_published_upcoming_with_seats_left(api_client):
    open_session = SessionFactory()
    SessionFactory(capacity=2, confirmed_count=2)
    SessionFactory(status=Session.Status.CANCELLED)
    assert ids(api_client.get("/api/sessions/?available=true")) == [open_session.id]


def test_text_search_matches_title_and_chinese_city_names(api_client):
    from tests.factories import CityFactory, VenueFactory

    xian = CityFactory(name="Xi'an", local_name="西安")
    in_xian = SessionFactory(venue=VenueFactory(city=xian), title="City wall at night")
    SessionFactory(title="Harbor lights")
    assert ids(api_client.get("/api/sessions/?q=西安")) == [in_xian.id]
    assert ids(api_client.get("/api/sessions/?q=wall")) == [in_xian.id]


def test_lists_are_paginated_per_the_contract(api_client):
    SessionFactory.create_batch(5)
    body = api_client.get("/api/sessions/?page_size=2&page=2").json()
    assert body["count"] == 5
    assert len(body["results"]) == 2
    assert body["next"] and body["previous"]


@pytest.mark.parametrize("path", ["/api/cities/", "/api/venues/", "/api/series/", "/api/streams/"])
def test_other_lists_are_public_and_paginated(api_client, path):
    from tests.factories import StreamFactory

    StreamFactory()
    body = api_client.get(path).json()
    assert set(body) == {"count", "next", "previous", "results"}
    assert body["count"] >= 1


def test_streams_of_draft_sessions_are_hidden_from_the_public(api_client):
    from tests.factories import StreamFactory

    StreamFactory(session__status=Session.Status.DRAFT)
    assert api_client.get("/api/streams/").json()["count"] == 0


def test_unknown_time_zone_is_refused_by_the_time_zone_field():
    from rest_framework.exceptions import ValidationError

    from project.api import TimeZoneField

    field = TimeZoneField()
    assert field.run_validation("Asia/Urumqi") == "Asia/Urumqi"
    with pytest.raises(ValidationError):
        field.run_validation("Asia/Atlantis")
