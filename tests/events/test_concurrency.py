"""Two organizers booking the same venue or host at the same moment, with real threads and separate
connections on PostgreSQL: the venue and host row locks make exactly one of them win."""

import datetime as dt

import pytest
from django.db import connection

from events import services
from events.models import Session
from project.errors import ApplicationError
from tests.concurrency import run_concurrently
from tests.events.conftest import evening, session_data
from tests.factories import CityFactory, OrganizationFactory, SeriesFactory, VenueFactory, host_of, organizer_of

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL (SQLite serializes every writer anyway)")


def outcome(results):
    created = [r for r in results if isinstance(r, Session)]
    refused = [r for r in results if isinstance(r, ApplicationError) and r.code == "conflict"]
    assert len(created) + len(refused) == len(results), results
    return created, refused


def test_concurrent_bookings_of_one_venue_make_one_session():
    organization = OrganizationFactory()
    organizer = organizer_of(organization)
    venue = VenueFactory(city=CityFactory(organization=organization))
    series = [SeriesFactory(organization=organization) for _ in range(4)]
    start = evening(days=20)
    jobs = [
        (lambda s=s: services.session_create(series=s, data=session_data(venue, starts_at=start), by=organizer))
        for s in series
    ]
    created, refused = outcome(run_concurrently(jobs))
    assert len(created) == 1
    assert len(refused) == 3
    assert Session.objects.filter(venue=venue).count() == 1


def test_concurrent_bookings_of_one_host_in_two_cities_make_one_session():
    organization = OrganizationFactory()
    organizer = organizer_of(organization)
    photographer = host_of(organization)
    venues = [
        VenueFactory(city=CityFactory(organization=organization, latitude=lat, longitude=lon))
        for lat, lon in [(34.62, 112.45), (39.90, 116.41), (31.23, 121.47)]
    ]
    series = SeriesFactory(organization=organization)
    start = evening(days=20)
    jobs = [
        (
            lambda v=v, i=i: services.session_create(
                series=series,
                data=session_data(v, starts_at=start + dt.timedelta(minutes=10 * i), hosts=[photographer.id]),
                by=organizer,
            )
        )
        for i, v in enumerate(venues)
    ]
    created, refused = outcome(run_concurrently(jobs))
    assert len(created) == 1
    assert {r.extra["conflict"]["kind"] for r in refused} <= {"host_double_booked", "host_travel"}
