import re

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


def test_one_registration_by_token_is_one_statement_on_postgresql_and_four_elsewhere():
    session = SessionFactory(capacity=1)
    clients = [token_client(UserFactory()) for _ in range(2)]
    for client, expected in zip(clients, ("confirmed", "waitlisted"), strict=True):
        with CaptureQueriesContext(connection) as ctx:
            response = client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
        assert response.status_code == 201
        assert response.json()["status"] == expected
        sql = statements(ctx)
        if connection.vendor == "postgresql":
            # one statement (registrations.rush): the token's fan, the conditional UPDATE of the
            # session (on condition that the fan holds no registration) and the INSERT, in autocommit
            assert len(sql) == 1, sql
            assert sql[0].lstrip().startswith("WITH fan AS (")
        else:
            # token + user, existing registration?, conditional UPDATE of the session, INSERT
            assert len(sql) == 4, sql


def test_repeated_registration_reads_the_existing_one_and_takes_no_seat():
    session = SessionFactory()
    client = token_client(UserFactory())
    first = client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json").json()
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
    assert response.status_code == 200
    assert response.json() == first
    session.refresh_from_db()
    assert session.confirmed_count == 1
    # PostgreSQL: the fast path's statement (finds the fan, takes nothing), the full view's one
    # statement for a fan it has (takes nothing), the registration itself. Elsewhere: token +
    # user, the registration itself.
    assert len(statements(ctx)) == (3 if connection.vendor == "postgresql" else 2)


def test_registration_with_a_priority_code_takes_six_queries():
    import datetime as dt

    from django.utils import timezone

    from tests.factories import PriorityCodeFactory

    session = SessionFactory(registration_opens_at=timezone.now() + dt.timedelta(days=1), priority_opens_at=None)
    session.priority_opens_at = timezone.now() - dt.timedelta(hours=1)
    session.save(update_fields=["priority_opens_at"])
    code = PriorityCodeFactory(series=session.series)
    client = token_client(UserFactory())
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(
            f"/api/sessions/{session.id}/registrations/", {"priority_code": code.code}, format="json"
        )
    assert response.status_code == 201
    # + the code's lookup and its conditional use count
    assert len(statements(ctx)) == 6


def _by_id() -> tuple[str, list]:
    from django.utils import timezone

    from registrations import services

    params = services._first_registration_params(session_id=1, fan_id=1, now=timezone.now(), checkin_code="x")
    return services._FIRST_REGISTRATION_SQL, params


def _by_token() -> tuple[str, list]:
    from django.utils import timezone

    from registrations import services

    params = services._first_registration_params(session_id=1, fan_id=None, now=timezone.now(), checkin_code="x")
    return services._first_registration_by_token_sql(), ["key", *params]


@pytest.mark.postgres
@pytest.mark.parametrize("statement", [_by_id, _by_token], ids=["fan by id", "fan by token"])
def test_the_one_statement_reads_registrations_only_through_the_unique_index_whatever_the_statistics(statement):
    """psycopg prepares the statement, and PostgreSQL then keeps one generic plan per connection. A
    lookup in registrations planned while the table looked empty (just analyzed, as here) would scan
    the whole table on every registration of a rush; the statement finds an existing registration
    through the unique (session, fan) index instead (ON CONFLICT), which no statistics can change."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL's plans")
    numbers = iter(range(1, 100))
    raw_sql, params = statement()
    sql = re.sub("%s", lambda _: f"${next(numbers)}", raw_sql)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE registrations_registration")
        cursor.execute("SET plan_cache_mode = force_generic_plan")
        try:
            cursor.execute(f"PREPARE first_registration AS {sql}")
            cursor.execute(f"EXPLAIN EXECUTE first_registration({', '.join(['%s'] * len(params))})", params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        finally:
            cursor.execute("DEALLOCATE ALL")
            cursor.execute("RESET plan_cache_mode")
    assert "Conflict Arbiter Indexes: registration_one_per_fan_and_session" in plan, plan
    assert "Scan on registrations_registration" not in plan, plan


def test_a_draw_entry_by_token_loads_no_field_of_the_fan_on_its_own():
    """The token's fan is read with ``ACTING_FIELDS``: a field a draw entry checks (verified address,
    account age) left out of them would cost a query of its own on every entry of a rush."""
    import datetime as dt

    from django.utils import timezone

    from events.models import Session

    now = timezone.now()
    session = SessionFactory(
        allocation=Session.Allocation.DRAW,
        entry_opens_at=now - dt.timedelta(hours=1),
        entry_closes_at=now + dt.timedelta(hours=1),
        draw_at=now + dt.timedelta(hours=2),
        draw_new_accounts=False,
    )
    client = token_client(UserFactory(email_verified_at=now, date_joined=now - dt.timedelta(days=3)))
    with CaptureQueriesContext(connection) as ctx:
        response = client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json")
    assert response.status_code == 201, response.content
    deferred_loads = [sql for sql in statements(ctx) if re.search(r'WHERE "accounts_user"\."id" = \d+ LIMIT 21', sql)]
    assert deferred_loads == []
