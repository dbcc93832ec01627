"""Session rules, as the services enforce them (the API tests check the HTTP side)."""

import datetime as dt

import pytest

from events import services
from events.models import Session
from project.errors import ApplicationError
from tests.events.conftest import evening, session_data
from tests.factories import CityFactory, UserFactory, VenueFactory, host_of

pytestmark = pytest.mark.django_db


def fields_of(excinfo) -> dict:
    return excinfo.value.fields


def test_created_session_is_a_draft_in_the_venues_city_and_time_zone(series, hall, organizer):
    session = services.session_create(series=series, data=session_data(hall), by=organizer)
    assert session.status == Session.Status.DRAFT
    assert session.city_id == hall.city_id
    assert session.timezone == hall.timezone
    assert session.sequence == 0


def test_session_time_zone_is_the_venues_not_the_citys(series, organization, organizer):
    city = CityFactory(organization=organization, timezone="Asia/Shanghai")
    venue = VenueFactory(city=city, timezone="Asia/Urumqi")
    session = services.session_create(series=series, data=session_data(venue), by=organizer)
    assert session.timezone == "Asia/Urumqi"


def test_capacity_defaults_to_the_venues_maximum(series, grottoes, organizer):
    data = session_data(grottoes)
    del data["capacity"]
    assert services.session_create(series=series, data=data, by=organizer).capacity == 40


def test_ends_must_be_after_starts(series, hall, organizer):
    data = session_data(hall)
    data["ends_at"] = data["starts_at"]
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    assert excinfo.value.code == "invalid"
    assert "ends_at" in fields_of(excinfo)
    assert not Session.objects.exists()


def test_session_longer_than_a_day_is_refused(series, hall, organizer):
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=session_data(hall, hours=25), by=organizer)
    assert "ends_at" in fields_of(excinfo)


def test_naive_times_are_refused(series, hall, organizer):
    data = session_data(hall)
    data["starts_at"] = data["starts_at"].replace(tzinfo=None)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    assert "starts_at" in fields_of(excinfo)


def test_start_in_the_past_is_refused(series, hall, organizer):
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=session_data(hall, starts_at=evening(days=-2)), by=organizer)
    assert "starts_at" in fields_of(excinfo)


def test_capacity_above_the_venues_maximum_is_refused(series, grottoes, organizer):
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=session_data(grottoes, capacity=41), by=organizer)
    assert fields_of(excinfo)["capacity"] == ["Longmen Grottoes holds at most 40."]


def test_talk_needs_a_venue_but_a_livestream_may_have_only_a_city(series, hall, luoyang, organizer):
    data = session_data(hall) | {"venue": None}
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    assert "venue" in fields_of(excinfo)
    session = services.session_create(
        series=series, data=data | {"kind": "livestream", "city": luoyang.id, "capacity": 0}, by=organizer
    )
    assert session.venue is None
    assert session.timezone == luoyang.timezone


def test_city_must_be_the_venues(series, hall, beijing, organizer):
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=session_data(hall, city=beijing.id), by=organizer)
    assert "city" in fields_of(excinfo)


def test_venue_of_another_organization_is_refused(series, organizer):
    stranger_venue = VenueFactory()
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=session_data(stranger_venue), by=organizer)
    assert "venue" in fields_of(excinfo)


def test_hosts_must_belong_to_the_organization(series, hall, organization, organizer):
    host = host_of(organization)
    stranger = UserFactory()
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=session_data(hall, hosts=[host.id, stranger.id]), by=organizer)
    assert stranger.username in fields_of(excinfo)["hosts"][0]  # by name, not "3"
    session = services.session_create(series=series, data=session_data(hall, hosts=[host.id]), by=organizer)
    assert list(session.hosts.all()) == [host]


@pytest.mark.parametrize(
    ("windows", "field"),
    [
        ({"registration_opens_at": 4, "registration_closes_at": 5}, "registration_closes_at"),
        ({"registration_opens_at": 5, "registration_closes_at": 5}, "registration_closes_at"),
        ({"registration_closes_at": -1}, "registration_closes_at"),
        ({"registration_opens_at": 0}, "registration_opens_at"),
        ({"priority_opens_at": 4, "registration_opens_at": 5}, "priority_opens_at"),
        ({"priority_opens_at": 6}, "priority_opens_at"),
    ],
)
def test_registration_windows_must_be_in_order(series, hall, organizer, windows, field):
    """priority_opens_at <= registration_opens_at < registration_closes_at <= starts_at.
    Numbers are hours before the session starts (negative: after)."""
    data = session_data(hall)
    for name, hours_before in windows.items():
        data[name] = data["starts_at"] - dt.timedelta(hours=hours_before)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    assert field in fields_of(excinfo)


def test_windows_in_order_are_accepted(series, hall, organizer):
    data = session_data(hall)
    start = data["starts_at"]
    data |= {
        "priority_opens_at": start - dt.timedelta(days=9),
        "registration_opens_at": start - dt.timedelta(days=7),
        "registration_closes_at": start,
    }
    session = services.session_create(series=series, data=data, by=organizer)
    assert session.registration_closes_at == start


def test_only_organizers_of_the_organization_may_create(series, hall, host):
    other_organizer = UserFactory()
    for user in (host, other_organizer):
        with pytest.raises(ApplicationError) as excinfo:
            services.session_create(series=series, data=session_data(hall), by=user)
        assert excinfo.value.status_code == 403


def test_publish_makes_a_draft_public_and_is_idempotent(series, hall, organizer):
    session = services.session_create(series=series, data=session_data(hall), by=organizer)
    published = services.session_publish(session=session, by=organizer)
    assert published.status == Session.Status.PUBLISHED
    again = services.session_publish(session=session, by=organizer)
    assert again.status == Session.Status.PUBLISHED
    assert again.sequence == 0


def test_cancelled_session_cannot_be_published_or_edited(series, hall, organizer):
    session = services.session_create(series=series, data=session_data(hall), by=organizer)
    services.session_cancel(session=session, reason="Storm warning", by=organizer)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_publish(session=session, by=organizer)
    assert excinfo.value.code == "cancelled"
    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(session=session, data={"title": "New"}, by=organizer)
    assert excinfo.value.code == "cancelled"


def test_cancel_needs_a_reason(series, hall, organizer):
    session = services.session_create(series=series, data=session_data(hall), by=organizer)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_cancel(session=session, reason="  ", by=organizer)
    assert "reason" in fields_of(excinfo)
    session.refresh_from_db()
    assert session.status == Session.Status.DRAFT


def test_edit_without_moving_keeps_the_sequence(series, hall, organizer):
    session = services.session_create(series=series, data=session_data(hall), by=organizer)
    updated = services.session_update(session=session, data={"title": "Stars over the river"}, by=organizer)
    assert updated.title == "Stars over the river"
    assert updated.sequence == 0


def test_moving_a_session_to_another_venue_takes_its_city_and_time_zone(series, hall, gallery, organizer):
    session = services.session_create(series=series, data=session_data(hall), by=organizer)
    moved = services.session_update(session=session, data={"venue": gallery.id}, by=organizer)
    assert moved.venue_id == gallery.id
    assert moved.city_id == gallery.city_id
    assert moved.sequence == 1
