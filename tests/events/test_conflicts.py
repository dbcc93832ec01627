"""The four conflict rules, for single sessions (400 code "conflict") and for a whole series."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from events import conflicts, services
from events.models import Session
from project.errors import ApplicationError
from tests.conftest import client_for
from tests.events.conftest import evening, session_data
from tests.factories import CityFactory, SeriesFactory, SessionFactory, VenueFactory, host_of

pytestmark = pytest.mark.django_db

BEIJING_TZ = dt.timezone(dt.timedelta(hours=8))


@pytest.fixture
def photographer(organization):
    return host_of(organization)


def conflict_of(excinfo) -> dict:
    assert excinfo.value.code == "conflict"
    return excinfo.value.extra["conflict"]


def test_great_circle_distance_beijing_shanghai():
    assert conflicts.haversine_km(39.9042, 116.4074, 31.2304, 121.4737) == pytest.approx(1067, abs=5)


# --- venue --------------------------------------------------------------------------------------


def test_venue_booked_within_the_changeover_is_a_conflict_naming_the_other_session(series, hall, organizer):
    first = SessionFactory(series=series, venue=hall, starts_at=evening(hour_local=18))  # 18:00-20:00
    data = session_data(hall, starts_at=evening(hour_local=20, minute=20))
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    conflict = conflict_of(excinfo)
    assert conflict["kind"] == "venue_double_booked"
    assert conflict["session"] == first.id
    assert "venue" in excinfo.value.fields
    assert Session.objects.count() == 1


def test_venue_free_after_the_changeover(series, hall, organizer):
    SessionFactory(series=series, venue=hall, starts_at=evening(hour_local=18))
    data = session_data(hall, starts_at=evening(hour_local=20, minute=30))
    assert services.session_create(series=series, data=data, by=organizer).id


def test_changeover_is_a_setting(series, hall, organizer, settings):
    settings.VENUE_CHANGEOVER_MINUTES = 0
    SessionFactory(series=series, venue=hall, starts_at=evening(hour_local=18))
    assert services.session_create(
        series=series, data=session_data(hall, starts_at=evening(hour_local=20)), by=organizer
    )


def test_draft_sessions_conflict_but_cancelled_ones_do_not(series, hall, organizer):
    draft = SessionFactory(series=series, venue=hall, status=Session.Status.DRAFT)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=session_data(hall, starts_at=draft.starts_at), by=organizer)
    assert conflict_of(excinfo)["session"] == draft.id
    Session.objects.filter(id=draft.id).update(status=Session.Status.CANCELLED)
    assert services.session_create(series=series, data=session_data(hall, starts_at=draft.starts_at), by=organizer)


def test_sessions_of_other_series_conflict_too(series, hall, organization, organizer):
    other = SessionFactory(series=SeriesFactory(organization=organization), venue=hall)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=session_data(hall, starts_at=other.starts_at), by=organizer)
    assert conflict_of(excinfo)["session"] == other.id


def test_rescheduling_into_a_booked_slot_is_a_conflict_and_changes_nothing(series, hall, organizer):
    first = SessionFactory(series=series, venue=hall, starts_at=evening(hour_local=18))
    second = SessionFactory(series=series, venue=hall, starts_at=evening(hour_local=21))
    new_start = evening(hour_local=19)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(
            session=second, data={"starts_at": new_start, "ends_at": new_start + dt.timedelta(hours=1)}, by=organizer
        )
    assert conflict_of(excinfo)["session"] == first.id
    second.refresh_from_db()
    assert (second.starts_at, second.sequence) == (evening(hour_local=21), 0)


def test_a_session_does_not_conflict_with_itself(series, hall, organizer):
    session = SessionFactory(series=series, venue=hall)
    later = session.starts_at + dt.timedelta(minutes=30)
    moved = services.session_update(
        session=session, data={"starts_at": later, "ends_at": later + dt.timedelta(hours=2)}, by=organizer
    )
    assert moved.starts_at == later


# --- host ---------------------------------------------------------------------------------------


def test_host_in_two_overlapping_sessions_is_a_conflict(series, hall, gallery, photographer, organizer):
    first = SessionFactory(series=series, venue=gallery, hosts=[photographer])
    data = session_data(hall, starts_at=first.starts_at + dt.timedelta(hours=1), hosts=[photographer.id])
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    conflict = conflict_of(excinfo)
    assert conflict["kind"] == "host_double_booked"
    assert conflict["session"] == first.id
    assert conflict["host"] == photographer.id
    assert "hosts" in excinfo.value.fields


def test_adding_a_busy_host_to_a_session_is_a_conflict(series, hall, gallery, photographer, organizer):
    busy = SessionFactory(series=series, venue=gallery, hosts=[photographer])
    session = SessionFactory(series=series, venue=hall, starts_at=busy.starts_at)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(session=session, data={"hosts": [photographer.id]}, by=organizer)
    assert conflict_of(excinfo)["kind"] == "host_double_booked"
    assert not session.hosts.exists()


# --- travel -------------------------------------------------------------------------------------


def test_host_cannot_fly_between_cities_in_time(series, hall, gallery, photographer, organizer):
    """Luoyang -> Beijing is about 680 km: 82 minutes at 500 km/h plus the 90-minute buffer."""
    first = SessionFactory(series=series, venue=hall, hosts=[photographer], starts_at=evening(hour_local=14))
    data = session_data(gallery, starts_at=first.ends_at + dt.timedelta(minutes=150), hosts=[photographer.id])
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    conflict = conflict_of(excinfo)
    assert conflict["kind"] == "host_travel"
    assert conflict["session"] == first.id
    assert conflict["distance_km"] == pytest.approx(680, abs=20)
    assert conflict["available_minutes"] == 150
    assert conflict["required_minutes"] == pytest.approx(172, abs=5)
    data = session_data(gallery, starts_at=first.ends_at + dt.timedelta(minutes=180), hosts=[photographer.id])
    assert services.session_create(series=series, data=data, by=organizer)


def test_travel_is_checked_towards_the_next_session_too(series, hall, gallery, photographer, organizer):
    later = SessionFactory(series=series, venue=gallery, hosts=[photographer], starts_at=evening(hour_local=20))
    data = session_data(hall, starts_at=later.starts_at - dt.timedelta(hours=4), hosts=[photographer.id])
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    assert conflict_of(excinfo) | {"session": later.id} == conflict_of(excinfo)
    assert conflict_of(excinfo)["kind"] == "host_travel"


def test_same_city_needs_only_the_buffer(series, hall, grottoes, photographer, organizer):
    first = SessionFactory(series=series, venue=hall, hosts=[photographer], starts_at=evening(hour_local=14))
    too_soon = session_data(grottoes, starts_at=first.ends_at + dt.timedelta(minutes=60), hosts=[photographer.id])
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=too_soon | {"capacity": 20}, by=organizer)
    assert conflict_of(excinfo)["kind"] == "host_travel"
    assert conflict_of(excinfo)["required_minutes"] == 90
    in_time = session_data(grottoes, starts_at=first.ends_at + dt.timedelta(minutes=90), hosts=[photographer.id])
    assert services.session_create(series=series, data=in_time | {"capacity": 20}, by=organizer)


def test_travel_speed_and_buffer_are_settings(series, hall, gallery, photographer, organizer, settings):
    settings.HOST_TRAVEL_SPEED_KMH = 5000
    settings.HOST_TRAVEL_BUFFER_MINUTES = 10
    first = SessionFactory(series=series, venue=hall, hosts=[photographer], starts_at=evening(hour_local=14))
    data = session_data(gallery, starts_at=first.ends_at + dt.timedelta(minutes=20), hosts=[photographer.id])
    assert services.session_create(series=series, data=data, by=organizer)


def test_other_hosts_do_not_constrain_each_other(series, hall, gallery, organization, organizer):
    SessionFactory(series=series, venue=hall, hosts=[host_of(organization)], starts_at=evening(hour_local=14))
    data = session_data(gallery, starts_at=evening(hour_local=16, minute=10), hosts=[host_of(organization).id])
    assert services.session_create(series=series, data=data, by=organizer)


# --- dusk ---------------------------------------------------------------------------------------


def test_night_shoot_before_civil_dusk_is_a_conflict_reporting_dusk(series, grottoes, organizer):
    data = session_data(grottoes, kind="night_shoot", starts_at=evening(hour_local=16), capacity=20)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    conflict = conflict_of(excinfo)
    assert conflict["kind"] == "night_shoot_before_dusk"
    dusk = dt.datetime.fromisoformat(conflict["dusk"])
    assert dusk.utcoffset() == dt.timedelta(hours=8)
    assert dusk.date() == data["starts_at"].astimezone(BEIJING_TZ).date()
    assert dt.time(17, 0) < dusk.time() < dt.time(20, 30)
    assert dusk.strftime("%H:%M") in excinfo.value.message
    assert "starts_at" in excinfo.value.fields


def test_night_shoot_after_dusk_or_after_midnight_is_fine(series, grottoes, organizer):
    evening_shoot = session_data(grottoes, kind="night_shoot", starts_at=evening(hour_local=21), capacity=20)
    assert services.session_create(series=series, data=evening_shoot, by=organizer)
    small_hours = session_data(grottoes, kind="night_shoot", starts_at=evening(days=31, hour_local=1), capacity=20)
    assert services.session_create(series=series, data=small_hours, by=organizer)


def test_talks_may_start_in_daylight(series, hall, organizer):
    assert services.session_create(
        series=series, data=session_data(hall, starts_at=evening(hour_local=10)), by=organizer
    )


def test_dusk_depends_on_the_venues_place_and_time_zone():
    """Kashgar is 2,700 km west of Beijing on Beijing time: dusk comes over two hours later there."""
    day = dt.date(2026, 12, 10)
    _, beijing_dusk = conflicts.civil_twilight(39.9042, 116.4074, "Asia/Shanghai", day)
    _, kashgar_dusk = conflicts.civil_twilight(39.4704, 75.9898, "Asia/Shanghai", day)
    assert kashgar_dusk - beijing_dusk > dt.timedelta(hours=2)
    assert beijing_dusk.tzinfo is not None and beijing_dusk.date() == day


def test_polar_day_has_no_dusk_for_a_night_shoot():
    slot = conflicts.Slot(
        key="x",
        title="Midnight sun",
        kind="night_shoot",
        starts_at=dt.datetime(2027, 6, 21, 22, tzinfo=dt.UTC),
        ends_at=dt.datetime(2027, 6, 21, 23, tzinfo=dt.UTC),
        venue_id=None,
        venue_name="",
        city_id=1,
        city_name="Tromsø",
        city_lat=69.6492,
        city_lon=18.9553,
        lat=69.6492,
        lon=18.9553,
        timezone="Europe/Oslo",
        host_ids=frozenset(),
    )
    found = conflicts.dusk_conflict(slot)
    assert found is not None and found.details == {"dusk": None}
    # Longyearbyen in December: the sun stays more than 6° below the horizon all day.
    winter = slot.__class__(
        **{**slot.__dict__, "starts_at": dt.datetime(2027, 12, 21, 12, tzinfo=dt.UTC), "lat": 78.2232, "lon": 15.6267}
    )
    assert conflicts.dusk_conflict(winter) is None


# --- publish re-checks, and the API shape ---------------------------------------------------------


def test_publishing_rechecks_conflicts(series, hall, organizer):
    draft = services.session_create(series=series, data=session_data(hall), by=organizer)
    # Someone loads a clashing session behind the services' back (e.g. an import script).
    clash = SessionFactory(series=series, venue=hall, starts_at=draft.starts_at)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_publish(session=draft, by=organizer)
    assert conflict_of(excinfo)["session"] == clash.id
    draft.refresh_from_db()
    assert draft.status == Session.Status.DRAFT


def test_conflict_is_a_400_with_code_conflict_over_the_api(series, hall, organizer):
    first = SessionFactory(series=series, venue=hall)
    start = first.starts_at.astimezone(BEIJING_TZ)
    response = client_for(organizer).post(
        "/api/sessions/",
        {
            "series": series.id,
            "title": "Clash",
            "venue": hall.id,
            "starts_at": start.isoformat(),
            "ends_at": (start + dt.timedelta(hours=1)).isoformat(),
        },
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "conflict"
    assert body["conflict"]["kind"] == "venue_double_booked"
    assert body["conflict"]["session"] == first.id
    assert first.title in body["detail"]  # named as people know it; the id is in body["conflict"]
    assert body["fields"]["venue"]


# --- the series' conflict list --------------------------------------------------------------------


def test_series_conflicts_lists_every_kind_with_both_sessions(series, hall, grottoes, gallery, organization, organizer):
    photographer = host_of(organization)
    a = SessionFactory(series=series, venue=hall, status="draft", starts_at=evening(hour_local=18))
    b = SessionFactory(series=series, venue=hall, status="draft", starts_at=evening(hour_local=19))
    c = SessionFactory(series=series, venue=grottoes, hosts=[photographer], starts_at=evening(days=32, hour_local=20))
    d = SessionFactory(series=series, venue=gallery, hosts=[photographer], starts_at=evening(days=32, hour_local=21))
    e = SessionFactory(
        series=series, venue=hall, hosts=[photographer], starts_at=evening(days=33, hour_local=0, minute=30)
    )
    f = SessionFactory(
        series=series, venue=grottoes, kind="night_shoot", starts_at=evening(days=34, hour_local=15), capacity=20
    )
    SessionFactory(series=series, venue=hall, status="cancelled", starts_at=evening(hour_local=18))
    response = client_for(organizer).get(f"/api/series/{series.id}/conflicts/")
    assert response.status_code == 200
    body = response.json()
    found = {(item["kind"], tuple(item["sessions"])) for item in body["results"]}
    assert found == {
        ("venue_double_booked", (a.id, b.id)),
        ("host_double_booked", (c.id, d.id)),
        ("host_travel", (d.id, e.id)),
        ("night_shoot_before_dusk", (f.id,)),
    }
    assert body["count"] == 4
    dusk = next(item for item in body["results"] if item["kind"] == "night_shoot_before_dusk")
    assert dusk["dusk"]


def test_series_conflicts_include_other_series(series, hall, organization, organizer):
    mine = SessionFactory(series=series, venue=hall)
    theirs = SessionFactory(series=SeriesFactory(organization=organization), venue=hall, starts_at=mine.starts_at)
    body = client_for(organizer).get(f"/api/series/{series.id}/conflicts/").json()
    assert [item["sessions"] for item in body["results"]] in ([[mine.id, theirs.id]], [[theirs.id, mine.id]])


def test_series_conflicts_are_for_its_organizers(series, organization, fan, host):
    assert client_for(None).get(f"/api/series/{series.id}/conflicts/").status_code == 401
    assert client_for(fan).get(f"/api/series/{series.id}/conflicts/").status_code == 403
    assert client_for(host).get(f"/api/series/{series.id}/conflicts/").status_code == 403


def test_series_conflicts_take_a_constant_number_of_queries(series, organization, organizer):
    cities = [CityFactory(organization=organization, latitude=30 + i, longitude=110 + i) for i in range(6)]
    venues = [VenueFactory(city=city) for city in cities]
    hosts = [host_of(organization) for _ in range(4)]

    def add(n: int) -> None:
        for i in range(n):
            SessionFactory(
                series=series,
                venue=venues[i % 6],
                hosts=[hosts[i % 4]],
                starts_at=evening(days=10 + (i // 6), hour_local=12 + (i % 9)),
            )

    def count() -> int:
        client = client_for(User.objects.get(pk=organizer.pk))  # memberships are cached per user object
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/api/series/{series.id}/conflicts/?page_size=200").status_code == 200
        return len(ctx.captured_queries)

    add(6)
    small = count()
    add(60)
    assert count() == small


def test_a_hosts_session_in_another_organization_blocks_them_but_stays_private(series, hall, organization, organizer):
    from accounts.models import Membership
    from tests.factories import MembershipFactory, OrganizationFactory

    photographer = host_of(organization)
    elsewhere = OrganizationFactory()
    MembershipFactory(user=photographer, organization=elsewhere, role=Membership.Role.HOST)
    secret = SessionFactory(
        series=SeriesFactory(organization=elsewhere),
        venue=VenueFactory(city=CityFactory(organization=elsewhere)),
        hosts=[photographer],
        title="Secret launch party",
        status="draft",
    )
    data = session_data(hall, starts_at=secret.starts_at, hosts=[photographer.id])
    with pytest.raises(ApplicationError) as excinfo:
        services.session_create(series=series, data=data, by=organizer)
    conflict = conflict_of(excinfo)
    assert conflict["kind"] == "host_double_booked"
    assert conflict["session"] is None
    assert "another organization" in excinfo.value.message
    assert "Secret" not in str(excinfo.value.extra) + excinfo.value.message
    assert (conflict["other"]["session"], conflict["other"]["title"]) == (None, "")
