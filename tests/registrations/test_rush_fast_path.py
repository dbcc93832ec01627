"""The registration endpoint's fast path (``registrations.rush``): a lone fan's first registration by
API token is one statement, answered exactly as the full view answers it; whatever else comes is the
full view's, as before."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from registrations import rush
from tests.conftest import token_client
from tests.factories import SessionFactory, UserFactory

# transaction=True: the statement runs in autocommit, as in production.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the fast path is PostgreSQL's; elsewhere every request takes the full view")


def _register(client, session, body=None, **extra):
    return client.post(f"/api/sessions/{session.id}/registrations/", body or {}, format="json", **extra)


def _statements(ctx) -> list[str]:
    return [q["sql"].lstrip() for q in ctx.captured_queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]


def _full_view_only(monkeypatch):
    monkeypatch.setattr(rush, "fast_registration", lambda request, session_id: None)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_a_rush_registration_is_answered_as_the_full_view_answers_it(monkeypatch, language):
    session = SessionFactory(capacity=1)
    fast_client, full_client = (
        token_client(UserFactory(language=language)),
        token_client(UserFactory(language=language)),
    )
    with CaptureQueriesContext(connection) as ctx:
        fast = _register(fast_client, session)
    assert [sql.split("(")[0] for sql in _statements(ctx)] == ["WITH fan AS "]
    _full_view_only(monkeypatch)
    session.capacity = 2
    session.save(update_fields=["capacity"])
    full = _register(full_client, session)

    assert fast.status_code == full.status_code == 201
    assert dict(fast.headers) | {"Content-Length": ""} == dict(full.headers) | {"Content-Length": ""}
    assert fast["Content-Language"] == language
    fast_body, full_body = fast.json(), full.json()
    assert fast_body.keys() == full_body.keys()
    for varying in ("id", "checkin_code", "created_at"):
        assert type(fast_body.pop(varying)) is type(full_body.pop(varying))
    assert fast_body == full_body == {
        "session": session.id, "status": "confirmed", "waitlist_position": None, "checked_in_at": None,
        "cancelled_at": None, "party_size": 1, "companions": [], "entry_ref": None, "offer_expires_at": None,
    }  # fmt: skip


def _next_fan_after_the_last_seat(session) -> tuple:
    """One fan takes the session's one seat; then another fan's registration, with its statements."""
    _register(token_client(UserFactory()), session)
    client = token_client(UserFactory())
    with CaptureQueriesContext(connection) as ctx:
        response = _register(client, session)
    return response, _statements(ctx)


def test_a_full_session_puts_the_fan_on_its_waitlist_in_the_one_statement():
    session = SessionFactory(capacity=1, waitlist_enabled=True)
    response, statements = _next_fan_after_the_last_seat(session)
    assert len(statements) == 1
    assert response.status_code == 201
    assert response.json()["status"] == "waitlisted"
    assert response.json()["waitlist_position"] == 1
    session.refresh_from_db()
    assert (session.confirmed_count, session.waitlist_count) == (1, 1)


def test_an_unknown_token_is_refused_and_takes_no_seat():
    session = SessionFactory()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token " + "0" * 40)
    response = _register(client, session)
    assert response.status_code == 401
    session.refresh_from_db()
    assert session.confirmed_count == 0


def test_an_inactive_fans_token_is_refused_and_takes_no_seat():
    session = SessionFactory()
    fan = UserFactory()
    client = token_client(fan)
    fan.is_active = False
    fan.save(update_fields=["is_active"])
    response = _register(client, session)
    assert response.status_code == 401
    session.refresh_from_db()
    assert session.confirmed_count == 0


def test_a_session_that_refuses_is_explained_by_the_full_view_without_looking_the_token_up_again():
    response, statements = _next_fan_after_the_last_seat(SessionFactory(capacity=1, waitlist_enabled=False))
    assert response.status_code == 409
    assert response.json()["code"] == "full"
    assert not any("authtoken_token" in sql for sql in statements[1:])


@pytest.mark.parametrize(
    ("body", "extra", "status"),
    [
        ({"party_size": 2, "companions": ["Li Lei"]}, {}, 201),
        ({"priority_code": "NOT-A-CODE"}, {}, 400),
        ({}, {"HTTP_ACCEPT": "text/html"}, 406),
        ({"priority_code": "", "note": "x" * 100}, {}, 201),
    ],
    ids=["a party", "a priority code", "an answer the API does not give", "a body longer than {}"],
)
def test_what_a_rush_request_is_not_goes_to_the_full_view(body, extra, status):
    session = SessionFactory(max_party_size=4)
    client = token_client(UserFactory())
    with CaptureQueriesContext(connection) as ctx:
        response = _register(client, session, body, **extra)
    assert response.status_code == status, response.content
    assert not any(sql.startswith("WITH fan AS") for sql in _statements(ctx))


def test_a_browser_session_registers_through_the_full_view():
    session = SessionFactory()
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(UserFactory())
    response = _register(client, session)
    assert response.status_code == 403  # a cookie session needs its CSRF token, as before
    session.refresh_from_db()
    assert session.confirmed_count == 0
