"""A session's status changes only through /publish/ and /cancel/ (issue 10, point 11): a status sent
with a create or an edit is refused with a 400 that says where to go, and nothing changes."""

import pytest

from events.models import Session
from tests.conftest import client_for
from tests.events.conftest import session_data
from tests.events.test_write_api import iso

pytestmark = pytest.mark.django_db


def _body(series, venue, **extra):
    data = session_data(venue, **extra)
    data["starts_at"], data["ends_at"] = iso(data["starts_at"]), iso(data["ends_at"])
    return {**data, "series": series.id}


@pytest.mark.parametrize("status", ["published", "cancelled", "nonsense", None])
def test_a_status_in_a_create_is_refused(organizer, series, hall, status):
    response = client_for(organizer).post("/api/sessions/", _body(series, hall, status=status))
    assert response.status_code == 400, response.content
    body = response.json()
    assert body["code"] == "status_read_only"
    assert "/publish/" in body["detail"] and "/cancel/" in body["detail"]
    assert body["fields"]["status"] == [body["detail"]]
    assert not Session.objects.exists()


def test_a_create_saying_draft_is_a_draft(organizer, series, hall):
    response = client_for(organizer).post("/api/sessions/", _body(series, hall, status="draft"))
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "draft"


@pytest.mark.parametrize(
    ("current", "sent"), [("draft", "published"), ("published", "cancelled"), ("published", "draft")]
)
def test_a_status_change_in_an_edit_is_refused(organizer, series, hall, current, sent):
    session = Session.objects.create(
        **{k: v for k, v in session_data(hall).items() if k != "venue"}, venue=hall, city=hall.city, series=series,
        timezone="Asia/Shanghai", status=current,
    )  # fmt: skip
    response = client_for(organizer).patch(f"/api/sessions/{session.id}/", {"status": sent, "title": "Renamed"})
    assert response.status_code == 400
    assert response.json()["code"] == "status_read_only"
    session.refresh_from_db()
    assert (session.status, session.title) == (current, "Light after dark")


def test_an_edit_may_send_back_the_status_it_read(organizer, series, hall):
    session = Session.objects.create(
        **{k: v for k, v in session_data(hall).items() if k != "venue"}, venue=hall, city=hall.city, series=series,
        timezone="Asia/Shanghai",
    )  # fmt: skip
    response = client_for(organizer).patch(f"/api/sessions/{session.id}/", {"status": "draft", "title": "Renamed"})
    assert response.status_code == 200, response.content
    assert response.json()["title"] == "Renamed"


def test_the_refusal_is_translated(organizer, series, hall):
    client = client_for(organizer)
    response = client.post("/api/sessions/", _body(series, hall, status="published"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    detail = response.json()["detail"]
    assert response.json()["code"] == "status_read_only"
    assert "/publish/" in detail and "/cancel/" in detail
    assert "发布" in detail and "取消" in detail
