import datetime as dt

import pytest
from django.urls import resolve
from django.utils import timezone

from events.models import Session
from registrations import apis
from registrations.models import Registration
from tests.conftest import client_for
from tests.factories import RegistrationFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def register(user, session, **body):
    return client_for(user).post(f"/api/sessions/{session.id}/registrations/", body, format="json")


def test_registration_routes_resolve_to_the_registration_views():
    assert resolve("/api/sessions/7/registrations/").func.view_class is apis.SessionRegistrationApi
    assert resolve("/api/sessions/7/checkin/").func.view_class is apis.CheckinApi
    assert resolve("/api/sessions/7/checkin/stats/").func.view_class is apis.CheckinStatsApi
    assert resolve("/api/me/registrations/").func.cls is apis.MyRegistrationViewSet
    assert resolve("/api/registrations/7/qr.svg").func.view_class is apis.RegistrationQrApi


def test_register_confirms_a_seat_with_the_contract_fields(fan):
    session = SessionFactory(capacity=2)
    response = register(fan, session)
    assert response.status_code == 201
    body = response.json()
    assert set(body) >= {"id", "session", "status", "waitlist_position", "checkin_code", "created_at"}
    assert body["session"] == session.id
    assert body["status"] == "confirmed"
    assert body["waitlist_position"] is None
    assert len(body["checkin_code"]) == 12  # short, no look-alike characters (API.md "Door check-in")
    assert body["created_at"].endswith("+00:00")
    session.refresh_from_db()
    assert session.confirmed_count == 1


def test_registering_twice_returns_the_existing_registration_and_no_second_seat(fan):
    session = SessionFactory(capacity=5)
    first = register(fan, session)
    second = register(fan, session)
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    session.refresh_from_db()
    assert session.confirmed_count == 1
    assert Registration.objects.filter(session=session).count() == 1


def test_full_session_waitlists_in_order():
    session = SessionFactory(capacity=1)
    fans = UserFactory.create_batch(3)
    bodies = [register(f, session).json() for f in fans]
    assert [b["status"] for b in bodies] == ["confirmed", "waitlisted", "waitlisted"]
    assert [b["waitlist_position"] for b in bodies] == [None, 1, 2]
    assert bodies[1]["checkin_code"] is None  # no ticket while waitlisted
    session.refresh_from_db()
    assert (session.confirmed_count, session.waitlist_count) == (1, 2)


def test_full_session_without_waitlist_is_409_full():
    session = SessionFactory(capacity=1, waitlist_enabled=False)
    register(UserFactory(), session)
    response = register(UserFactory(), session)
    assert response.status_code == 409
    assert response.json()["code"] == "full"
    session.refresh_from_db()
    assert (session.confirmed_count, session.waitlist_count) == (1, 0)


def test_anonymous_cannot_register(api_client):
    session = SessionFactory()
    response = api_client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_unknown_session_is_404(fan):
    response = client_for(fan).post("/api/sessions/987654/registrations/", {}, format="json")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_bad_body_is_a_json_400_and_nothing_changes(fan):
    session = SessionFactory()
    response = register(fan, session, priority_code=["x"])
    assert response.status_code == 400
    assert "priority_code" in response.json()["fields"]
    assert not Registration.objects.exists()


@pytest.mark.parametrize(
    "changes",
    [
        {"status": Session.Status.CANCELLED},
        {"registration_closes_at": "past"},
        {"registration_opens_at": "future"},
    ],
    ids=["cancelled", "after-close", "before-open"],
)
def test_registration_outside_the_window_is_409_closed(fan, changes):
    now = timezone.now()
    session = SessionFactory()
    if changes.get("registration_closes_at") == "past":
        changes = {
            "registration_opens_at": now - dt.timedelta(days=3),
            "registration_closes_at": now,
            "priority_opens_at": None,
        }
    elif changes.get("registration_opens_at") == "future":
        changes = {"registration_opens_at": now + dt.timedelta(days=1), "priority_opens_at": None}
    Session.objects.filter(id=session.id).update(**changes)
    response = register(fan, session)
    assert response.status_code == 409
    assert response.json()["code"] == "closed"
    assert not Registration.objects.exists()


def test_registration_after_the_session_started_is_closed(fan):
    now = timezone.now()
    session = SessionFactory(
        starts_at=now - dt.timedelta(minutes=5),
        registration_opens_at=now - dt.timedelta(days=2),
        registration_closes_at=None,
        priority_opens_at=None,
    )
    response = register(fan, session)
    assert response.status_code == 409
    assert response.json()["code"] == "closed"


def test_my_registrations_lists_only_mine_with_session_info(fan):
    mine = RegistrationFactory(fan=fan)
    RegistrationFactory()  # another fan's
    response = client_for(fan).get("/api/me/registrations/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 1
    assert body["results"][0]["id"] == mine.id
    assert body["results"][0]["session_info"]["title"] == mine.session.title
    assert body["results"][0]["session_info"]["starts_at"].endswith("+08:00")


def test_my_registrations_query_count_is_constant(fan, django_assert_max_num_queries):
    for _ in range(5):
        RegistrationFactory(fan=fan)
    with django_assert_max_num_queries(3):
        response = client_for(fan).get("/api/me/registrations/")
    assert response.json()["count"] == 5


def test_my_registrations_status_filter_is_validated(fan):
    response = client_for(fan).get("/api/me/registrations/?status=bogus")
    assert response.status_code == 400
    assert "status" in response.json()["fields"]


def test_fan_cannot_see_or_cancel_another_fans_registration(fan):
    other = RegistrationFactory()
    client = client_for(fan)
    assert client.get(f"/api/registrations/{other.id}/").status_code == 404
    response = client.delete(f"/api/registrations/{other.id}/")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    other.refresh_from_db()
    assert other.status == Registration.Status.CONFIRMED


def test_cancel_frees_the_seat(fan):
    session = SessionFactory(capacity=1)
    registration_id = register(fan, session).json()["id"]
    response = client_for(fan).delete(f"/api/registrations/{registration_id}/")
    assert response.status_code == 204
    session.refresh_from_db()
    assert session.confirmed_count == 0
    assert Registration.objects.get(id=registration_id).status == Registration.Status.CANCELLED
    # Cancelling again changes nothing.
    assert client_for(fan).delete(f"/api/registrations/{registration_id}/").status_code == 204
    session.refresh_from_db()
    assert session.confirmed_count == 0


def test_fan_who_cancelled_can_register_again_with_a_new_ticket(fan):
    session = SessionFactory(capacity=3)
    first = register(fan, session).json()
    client_for(fan).delete(f"/api/registrations/{first['id']}/")
    again = register(fan, session)
    assert again.status_code == 201
    assert again.json()["id"] == first["id"]
    assert again.json()["status"] == "confirmed"
    assert again.json()["checkin_code"] != first["checkin_code"]
    session.refresh_from_db()
    assert session.confirmed_count == 1


def test_cancel_after_the_start_is_refused(fan):
    registration = RegistrationFactory(fan=fan)
    Session.objects.filter(id=registration.session_id).update(
        starts_at=timezone.now() - dt.timedelta(minutes=1),
        registration_closes_at=None,
        confirmed_count=1,
    )
    response = client_for(fan).delete(f"/api/registrations/{registration.id}/")
    assert response.status_code == 409
    assert response.json()["code"] == "closed"


def test_draft_session_is_404_to_fans_and_closed_to_its_organizers(fan, organization, organizer):
    from tests.factories import SeriesFactory

    session = SessionFactory(series=SeriesFactory(organization=organization), status=Session.Status.DRAFT)
    response = register(fan, session)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    response = register(organizer, session)
    assert response.status_code == 409
    assert response.json()["code"] == "closed"
    assert not Registration.objects.exists()


def test_registration_payload_matches_the_serializer(fan):
    from registrations.serializers import RegistrationSerializer, registration_payload

    session = SessionFactory(capacity=1)
    confirmed = RegistrationFactory(session=session, checked_in_at=timezone.now())
    waitlisted = RegistrationFactory(session=session, status="waitlisted", waitlist_position=1)
    cancelled = RegistrationFactory(session=session, status="cancelled", cancelled_at=timezone.now())
    for registration in (confirmed, waitlisted, cancelled):
        registration.refresh_from_db()
        assert registration_payload(registration) == RegistrationSerializer(registration).data


def test_registration_token_authentication_refuses_unknown_tokens_and_inactive_users(api_client):
    from tests.conftest import token_client

    session = SessionFactory()
    api_client.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = api_client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "authentication_failed"
    inactive = UserFactory(is_active=False)
    response = token_client(inactive).post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
    assert response.status_code == 401
    active = UserFactory()
    response = token_client(active).post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
    assert response.status_code == 201
    assert Registration.objects.get().fan_id == active.id


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "non_field_errors"),
        ("SEAT", "non_field_errors"),
        ({"priority_code": "X" * 65}, "priority_code"),
        ({"priority_code": ["A", "B"]}, "priority_code"),
        ({"priority_code": True}, "priority_code"),
    ],
)
def test_a_registration_body_that_is_not_an_object_or_has_a_bad_code_is_a_400_and_takes_no_seat(fan, body, field):
    session = SessionFactory(capacity=2)
    response = client_for(fan).post(f"/api/sessions/{session.id}/registrations/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["fields"]
    session.refresh_from_db()
    assert (session.confirmed_count, session.waitlist_count) == (0, 0)
    assert not Registration.objects.filter(session=session).exists()


@pytest.mark.parametrize("body", [{}, {"priority_code": None}, {"priority_code": ""}, {"priority_code": "  "}])
def test_an_empty_or_blank_priority_code_registers_like_none(fan, body):
    session = SessionFactory(capacity=2)
    response = client_for(fan).post(f"/api/sessions/{session.id}/registrations/", body, format="json")
    assert response.status_code == 201
    assert response.json()["status"] == "confirmed"
