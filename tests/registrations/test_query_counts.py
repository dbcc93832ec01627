import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.conftest import token_client
from tests.factories import SessionFactory, UserFactory

# transaction=True: the durable registration transaction is a real BEGIN ... COMMIT here, as in
# production, not a savepoint inside the test's transaction.
pytestmark = pytest.mark.django_db(transaction=True)


def statements(ctx):
    """Queries of the request. Transaction control is left out: SQLite logs its explicit
    BEGIN IMMEDIATE, PostgreSQL's BEGIN and both COMMITs are not logged."""
    return [q["sql"] for q in ctx.captured_queries if not q["sql"].startswith(("BEGIN", "COMMIT"))]


def test_one_registration_takes_at_most_five_queries_including_the_token_lookup():
    session = SessionFactory(capacity=1)
    clients = [token_client(UserFactory()) for _ in range(2)]
    for client, expected in zip(clients, ("confirmed", "waitlisted"), strict=True):
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
        assert response.status_code == 201
        assert response.json()["status"] == expected
        sql = statements(ctx)
        # token + user, existing registration?, session FOR UPDATE, counter UPDATE, INSERT
        assert len(sql) == 5, sql


def test_repeated_registration_takes_two_queries_and_no_lock():
    session = SessionFactory()
    client = token_client(UserFactory())
    client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
    assert response.status_code == 200
    assert len(statements(ctx)) == 2
