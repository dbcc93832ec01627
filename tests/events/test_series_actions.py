"""A whole series at once: publish every draft (after a plan import), cancel the program."""

import pytest

from events.models import Session
from registrations.models import Registration
from tests.conftest import client_for
from tests.events.conftest import evening
from tests.factories import RegistrationFactory, SessionFactory

pytestmark = pytest.mark.django_db


def test_series_publish_publishes_every_draft(series, hall, grottoes, organizer):
    drafts = [SessionFactory(series=series, venue=hall, status="draft", starts_at=evening(days=d)) for d in (10, 11)]
    published = SessionFactory(series=series, venue=grottoes, starts_at=evening(days=12))
    response = client_for(organizer).post(f"/api/series/{series.id}/publish/")
    assert response.status_code == 200, response.json()
    assert sorted(response.json()["published"]) == sorted(d.id for d in drafts)
    assert set(Session.objects.filter(series=series).values_list("status", flat=True)) == {"published"}
    published.refresh_from_db()
    assert published.sequence == 0


def test_series_publish_is_all_or_nothing_and_names_every_bad_draft(series, hall, organizer):
    ok = SessionFactory(series=series, venue=hall, status="draft", starts_at=evening(days=10, hour_local=14))
    clash_a = SessionFactory(series=series, venue=hall, status="draft", starts_at=evening(days=11))
    clash_b = SessionFactory(series=series, venue=hall, status="draft", starts_at=evening(days=11))
    past = SessionFactory(
        series=series,
        venue=hall,
        status="draft",
        starts_at=evening(days=-3),
        registration_opens_at=None,
        priority_opens_at=None,
    )
    response = client_for(organizer).post(f"/api/series/{series.id}/publish/")
    assert response.status_code == 400
    body = response.json()
    assert set(body["sessions"]) == {str(clash_a.id), str(clash_b.id), str(past.id)}
    assert "venue" in body["sessions"][str(clash_a.id)]
    assert "starts_at" in body["sessions"][str(past.id)]
    assert body["code"] == "invalid"
    ok.refresh_from_db()
    assert ok.status == "draft"


def test_series_publish_checks_drafts_against_published_sessions(series, hall, organizer):
    published = SessionFactory(series=series, venue=hall, starts_at=evening(days=10))
    draft = SessionFactory(series=series, venue=hall, status="draft", starts_at=evening(days=10))
    response = client_for(organizer).post(f"/api/series/{series.id}/publish/")
    assert response.status_code == 400
    assert response.json()["code"] == "conflict"
    assert set(response.json()["sessions"]) == {str(draft.id)}
    assert published.title in response.json()["sessions"][str(draft.id)]["venue"][0]


def test_series_cancel_cancels_everything_and_tells_every_fan(series, hall, organizer, mailoutbox, run_jobs):
    sessions = [SessionFactory(series=series, venue=hall, starts_at=evening(days=d)) for d in (10, 11, 12)]
    for session in sessions[:2]:
        RegistrationFactory(session=session)
        Session.objects.filter(id=session.id).update(confirmed_count=1)
    response = client_for(organizer).post(f"/api/series/{series.id}/cancel/", {"reason": "Season postponed"})
    run_jobs()
    assert response.status_code == 200
    assert sorted(response.json()["cancelled"]) == sorted(s.id for s in sessions)
    assert set(Session.objects.filter(series=series).values_list("status", "sequence")) == {("cancelled", 1)}
    assert Registration.objects.filter(status="confirmed").count() == 2
    assert len(mailoutbox) == 2


@pytest.mark.parametrize("action", ["publish", "cancel"])
def test_series_actions_are_for_its_organizers(series, hall, fan, host, action):
    SessionFactory(series=series, venue=hall, status="draft")
    for client, expected in [(client_for(None), 401), (client_for(fan), 403), (client_for(host), 403)]:
        assert client.post(f"/api/series/{series.id}/{action}/", {"reason": "x"}).status_code == expected
    assert Session.objects.get().status == "draft"
