"""The sessions list: the contract's filters, in a constant number of queries whatever the page size."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from events.models import Session
from tests.conftest import client_for
from tests.events.conftest import evening
from tests.factories import CityFactory, SeriesFactory, SessionFactory, StreamFactory, VenueFactory, host_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def month(organization, series):
    """120 sessions across 4 cities with hosts, some livestreamed, some drafts, some full."""
    cities = [CityFactory(organization=organization, name=f"City {i}") for i in range(4)]
    venues = [VenueFactory(city=c) for c in cities]
    hosts = [host_of(organization) for _ in range(3)]
    for i in range(120):
        SessionFactory(
            series=series,
            venue=venues[i % 4],
            kind=("talk", "night_shoot", "livestream")[i % 3],
            hosts=hosts[: 1 + i % 3],
            starts_at=evening(days=5 + i // 4, hour_local=20),
            status="draft" if i % 10 == 0 else "published",
            confirmed_count=30 if i % 7 == 0 else 0,
        )
    for session in Session.objects.filter(kind="livestream")[:10]:
        StreamFactory(session=session)
    return cities


def queries_for(client, url: str) -> tuple[int, dict]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, response.json()
    return len(ctx.captured_queries), response.json()


FILTERS = [
    "",
    "kind=talk",
    "available=true",
    "q=light",
    "starts_after={after}&starts_before={before}",
    "series={series}&city={city}",
]


@pytest.mark.parametrize("who", ["anonymous", "organizer", "host"])
def test_session_list_query_count_does_not_grow_with_the_page(month, series, organizer, who):
    after, before = evening(days=6).astimezone(dt.UTC), evening(days=40).astimezone(dt.UTC)
    user = {"anonymous": None, "organizer": organizer, "host": Session.objects.first().hosts.first()}[who]

    def client():
        # A fresh user object each time: memberships are cached per user object.
        return client_for(User.objects.get(pk=user.pk) if user else None)

    for template in FILTERS:
        query = template.format(
            after=after.isoformat().replace("+", "%2B"),
            before=before.isoformat().replace("+", "%2B"),
            series=series.id,
            city=month[1].id,
        )
        small, small_body = queries_for(client(), f"/api/sessions/?page_size=5&{query}")
        large, large_body = queries_for(client(), f"/api/sessions/?page_size=100&{query}")
        assert small == large, query
        assert len(small_body["results"]) == min(5, small_body["count"])
        assert len(large_body["results"]) == min(100, large_body["count"])
        assert small_body["count"] > 5, query


def test_session_list_with_page_sizes_5_and_100_uses_the_same_queries(month, django_assert_num_queries):
    client = client_for(None)
    with CaptureQueriesContext(connection) as ctx:
        client.get("/api/sessions/?page_size=5")
    with django_assert_num_queries(len(ctx.captured_queries)):
        response = client.get("/api/sessions/?page_size=100")
    assert len(response.json()["results"]) == 100


def test_filters_combine(month, series, organization):
    other_series = SeriesFactory(organization=organization)
    SessionFactory(series=other_series, venue=VenueFactory(city=month[0]), kind="talk")
    client = client_for(None)
    body = client.get(f"/api/sessions/?series={series.id}&city={month[0].id}&kind=talk&page_size=200").json()
    assert body["count"] > 0
    assert all(
        (s["series"], s["city"], s["kind"]) == (series.id, month[0].id, "talk") and s["status"] != "draft"
        for s in body["results"]
    )


def test_available_means_published_upcoming_with_seats(month):
    body = client_for(None).get("/api/sessions/?available=true&page_size=200").json()
    assert body["count"] > 0
    assert all(s["seats_left"] > 0 and s["status"] == "published" for s in body["results"])
    full = Session.objects.filter(confirmed_count__gte=30, status="published").first()
    assert full.id not in {s["id"] for s in body["results"]}


def test_q_searches_titles_and_venues(month, series):
    special = SessionFactory(series=series, venue=VenueFactory(city=month[2], name="Drum Tower"), title="Stars")
    body = client_for(None).get("/api/sessions/?q=drum tower").json()
    assert [s["id"] for s in body["results"]] == [special.id]


def test_bad_filter_values_are_field_errors():
    client = client_for(None)
    cases = [
        ("series=abc", "series"),
        ("city=100000000000000000000", "city"),
        ("kind=party", "kind"),
        ("available=maybe", "available"),
    ]
    for query, field in cases:
        response = client.get(f"/api/sessions/?{query}")
        assert response.status_code == 400
        assert field in response.json()["fields"]


@pytest.mark.parametrize("path", ["/api/cities/", "/api/venues/", "/api/series/"])
def test_other_planning_lists_take_constant_queries(organization, path):
    for i in range(12):
        venue = VenueFactory(city=CityFactory(organization=organization, name=f"Town {i}"))
        SeriesFactory(organization=venue.organization)
    client = client_for(None)
    small, small_body = queries_for(client, f"{path}?page_size=2")
    large, large_body = queries_for(client, f"{path}?page_size=100")
    assert small == large
    assert len(large_body["results"]) == large_body["count"] > 2
