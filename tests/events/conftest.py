"""Shared pieces for the planning tests: one organization with cities, venues and a series."""

import datetime as dt

import pytest
from django.utils import timezone

from tests.factories import CityFactory, SeriesFactory, VenueFactory


def evening(days: int = 30, hour_local: int = 20, minute: int = 0) -> dt.datetime:
    """``days`` from now at ``hour_local`` in Beijing time, as an aware UTC datetime."""
    beijing = dt.timezone(dt.timedelta(hours=8))
    day = (timezone.now() + dt.timedelta(days=days)).astimezone(beijing).date()
    return dt.datetime.combine(day, dt.time(hour_local, minute), tzinfo=beijing).astimezone(dt.UTC)


@pytest.fixture
def luoyang(organization):
    return CityFactory(
        organization=organization, name="Luoyang", local_name="洛阳", latitude=34.6197, longitude=112.4540
    )


@pytest.fixture
def beijing(organization):
    return CityFactory(
        organization=organization, name="Beijing", local_name="北京", latitude=39.9042, longitude=116.4074
    )


@pytest.fixture
def hall(luoyang):
    return VenueFactory(city=luoyang, name="Academy Hall", max_capacity=200)


@pytest.fixture
def grottoes(luoyang):
    return VenueFactory(
        city=luoyang, name="Longmen Grottoes", latitude=34.5556, longitude=112.4701, max_capacity=40, outdoor=True
    )


@pytest.fixture
def gallery(beijing):
    return VenueFactory(city=beijing, name="798 Gallery", max_capacity=100)


@pytest.fixture
def series(organization):
    return SeriesFactory(organization=organization)


def session_data(venue, *, starts_at=None, hours: float = 2, **extra) -> dict:
    starts_at = starts_at or evening()
    data = {
        "kind": "talk",
        "title": "Light after dark",
        "venue": venue.id,
        "starts_at": starts_at,
        "ends_at": starts_at + dt.timedelta(hours=hours),
        "capacity": 30,
    }
    data.update(extra)
    return data
