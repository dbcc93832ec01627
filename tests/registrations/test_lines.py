"""Waitlist positions on pages come from each process's copy of the waiting line (registrations.lines)."""

import random

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registrations import selectors, services
from registrations.models import Registration
from tests.conftest import client_for
from tests.factories import RegistrationFactory, SessionFactory, UserFactory

pytestmark = pytest.mark.django_db


def page_position(registration: Registration) -> int | None:
    place, _ = selectors.fan_place_and_seats(fan_id=registration.fan_id, session_id=registration.session_id)
    return place.waitlist_position


def home_position(registration: Registration) -> int | None:
    (place,) = selectors.fan_places(fan_id=registration.fan_id, session_ids=[registration.session_id])
    return place.waitlist_position


def positions_by_rows(session) -> dict[int, int]:
    waiting = Registration.objects.filter(session=session, status="waitlisted").order_by("waitlist_ticket")
    return {registration.id: number for number, registration in enumerate(waiting, start=1)}


def line_reads(queries: CaptureQueriesContext) -> int:
    return sum("ORDER BY r.waitlist_ticket" in (query["sql"] or "") for query in queries.captured_queries)


def position_counts(queries: CaptureQueriesContext) -> int:
    """Positions counted in the database: a count of the waiting tickets up to one."""
    sqls = [query["sql"] or "" for query in queries.captured_queries]
    return sum("COUNT(*)" in sql and "waitlist_ticket" in sql for sql in sqls)


def test_every_waiting_fan_sees_the_position_the_rows_give_through_joins_cancellations_and_seats_given():
    session = SessionFactory(capacity=3, waitlist_enabled=True)
    active: list[Registration] = []
    chance = random.Random(20261128)
    for _ in range(60):
        if active and chance.random() < 0.4:
            services.registration_cancel(registration=active.pop(chance.randrange(len(active))))
        else:
            active.append(services.registration_create(session=session, fan=UserFactory()))
        truth = positions_by_rows(session)
        for registration in Registration.objects.filter(id__in=truth):
            assert page_position(registration) == truth[registration.id]
            assert home_position(registration) == truth[registration.id]
    assert len(truth) > 5  # the walk kept a line worth the name


def test_a_line_is_read_once_per_process_and_again_only_after_a_party_leaves():
    session = SessionFactory(capacity=1, waitlist_enabled=True)
    services.registration_create(session=session, fan=UserFactory())
    first, second, third = (services.registration_create(session=session, fan=UserFactory()) for _ in range(3))

    with CaptureQueriesContext(connection) as queries:
        assert page_position(third) == 3
        assert page_position(first) == 1
        assert home_position(second) == 2
    assert (line_reads(queries), position_counts(queries)) == (1, 0)

    with CaptureQueriesContext(connection) as queries:
        joined = services.registration_create(session=session, fan=UserFactory())
        assert page_position(joined) == 4  # joining moves nobody: the copy answers for the newcomer
        assert page_position(third) == 3
    assert line_reads(queries) == 0

    services.registration_cancel(registration=first)
    with CaptureQueriesContext(connection) as queries:
        assert page_position(third) == 2
        assert page_position(joined) == 3
        assert page_position(second) == 1
    assert (line_reads(queries), position_counts(queries)) == (1, 0)


def test_counters_that_disagree_with_the_rows_make_the_position_counted_in_the_database():
    session = SessionFactory(capacity=1, waitlist_enabled=True)  # counters left at 0, rows made by hand
    RegistrationFactory(session=session, status="confirmed")
    ahead = RegistrationFactory(session=session, status="waitlisted", waitlist_ticket=4)
    mine = RegistrationFactory(session=session, status="waitlisted", waitlist_ticket=9)

    with CaptureQueriesContext(connection) as queries:
        assert page_position(mine) == 2
        assert page_position(ahead) == 1
        assert page_position(mine) == 2
    assert (line_reads(queries), position_counts(queries)) == (1, 3)  # the line is not read on every page


def test_a_fans_list_of_sessions_page_and_api_give_positions_from_the_line_without_a_count_each():
    fan = UserFactory()
    mine = []
    for waiting_ahead in (0, 2, 5):
        session = SessionFactory(capacity=1, waitlist_enabled=True)
        services.registration_create(session=session, fan=UserFactory())
        for _ in range(waiting_ahead):
            services.registration_create(session=session, fan=UserFactory())
        mine.append(services.registration_create(session=session, fan=fan))
    client = client_for(fan)
    page = Client()
    page.force_login(fan)

    with CaptureQueriesContext(connection) as queries:
        listed = client.get("/api/registrations/").json()["results"]
        body = page.get("/sessions/mine/").content.decode()
    assert position_counts(queries) == 0
    assert sorted(r["waitlist_position"] for r in listed) == [1, 3, 6]
    for number in (1, 3, 6):
        assert f"#{number}" in body
