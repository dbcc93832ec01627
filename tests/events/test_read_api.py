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
