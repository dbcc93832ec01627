"""The demo program has no conflict, and moving one of its sessions to clash is caught, for each kind."""

import datetime as dt

import pytest

from accounts.models import User
from events import conflicts, services
from events.demo import demo_program_load
from events.models import Session
from project.errors import ApplicationError

pytestmark = pytest.mark.django_db

# November -> a December demo (the default today); May -> a June demo, when dusk comes after 20:00.
DEMO_DAYS = [dt.date(2026, 11, 25), dt.date(2027, 5, 20)]


@pytest.fixture
def demo():
    return demo_program_load(today=DEMO_DAYS[0]).series


@pytest.fixture
def organizer(demo):
    return User.objects.get(username="organizer")


def kinds_of(series) -> set[str]:
    return {c.kind for c in conflicts.series_conflicts(series_id=series.id)}


def talks(series):
    return Session.objects.filter(series=series, kind=Session.Kind.TALK).select_related("venue", "city")


def refused_kinds(excinfo) -> set[str]:
    assert excinfo.value.code == "conflict"
    return {c["kind"] for c in excinfo.value.extra["conflicts"]}


@pytest.mark.parametrize("today", DEMO_DAYS)
def test_demo_program_has_no_conflicts(today):
    series = demo_program_load(today=today).series
    assert conflicts.series_conflicts(series_id=series.id) == []


def test_demo_has_no_conflicts_over_the_api(demo, organizer, as_user):
    response = as_user(organizer).get(f"/api/series/{demo.id}/conflicts/")
    assert response.status_code == 200
    assert response.json()["count"] == 0


def test_moving_a_demo_talk_onto_another_venues_booking_is_caught(demo, organizer):
    first = talks(demo).first()
    second = talks(demo).filter(venue=first.venue).exclude(id=first.id).first()
    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(
            session=second, data={"starts_at": first.starts_at, "ends_at": first.ends_at}, by=organizer
        )
    assert "venue_double_booked" in refused_kinds(excinfo)
    assert excinfo.value.extra["conflict"]["session"] == first.id
    Session.objects.filter(id=second.id).update(starts_at=first.starts_at, ends_at=first.ends_at)
    assert "venue_double_booked" in kinds_of(demo)


def test_giving_a_demo_talk_a_host_who_is_busy_elsewhere_is_caught(demo, organizer):
    same_evening = {}
    for talk in talks(demo):
        same_evening.setdefault(talk.starts_at, []).append(talk)
    a, b = next(group for group in same_evening.values() if len(group) > 1)[:2]
    busy_host = b.hosts.get()
    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(session=a, data={"hosts": [busy_host.id]}, by=organizer)
    assert "host_double_booked" in refused_kinds(excinfo)
    a.hosts.set([busy_host])
    assert "host_double_booked" in kinds_of(demo)


def test_sending_a_demo_host_to_a_far_city_right_after_their_talk_is_caught(demo, organizer):
    """A Harbin or Kunming host cannot give a talk in the other city two hours after their own."""
    by_city = {t.city.name: t for t in talks(demo).order_by("starts_at")}
    home_city, far_city = max(
        ((a, b) for a in by_city for b in by_city),
        key=lambda pair: conflicts.haversine_km(
            by_city[pair[0]].city.latitude,
            by_city[pair[0]].city.longitude,
            by_city[pair[1]].city.latitude,
            by_city[pair[1]].city.longitude,
        ),
    )
    their_talk = by_city[home_city]
    host = their_talk.hosts.get()
    # Another of this host's sessions, moved to the far city just after ``their_talk``.
    other = Session.objects.filter(hosts=host).exclude(id=their_talk.id).first()
    starts = their_talk.ends_at + dt.timedelta(hours=2)
    far_venue = by_city[far_city].venue
    data = {"venue": far_venue.id, "starts_at": starts, "ends_at": starts + dt.timedelta(hours=1)}
    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(session=other, data=data, by=organizer)
    assert "host_travel" in refused_kinds(excinfo)
    Session.objects.filter(id=other.id).update(
        venue=far_venue, city=far_venue.city, starts_at=starts, ends_at=starts + dt.timedelta(hours=1)
    )
    assert "host_travel" in kinds_of(demo)


def test_moving_a_demo_night_shoot_into_the_afternoon_is_caught(demo, organizer):
    shoot = Session.objects.filter(series=demo, kind=Session.Kind.NIGHT_SHOOT).first()
    local = shoot.starts_at.astimezone(dt.timezone(dt.timedelta(hours=8)))
    afternoon = local.replace(hour=16, minute=0)
    with pytest.raises(ApplicationError) as excinfo:
        services.session_update(
            session=shoot, data={"starts_at": afternoon, "ends_at": afternoon + dt.timedelta(hours=2)}, by=organizer
        )
    assert refused_kinds(excinfo) == {"night_shoot_before_dusk"}
    assert excinfo.value.extra["conflict"]["dusk"]
    Session.objects.filter(id=shoot.id).update(starts_at=afternoon, ends_at=afternoon + dt.timedelta(hours=2))
    assert kinds_of(demo) == {"night_shoot_before_dusk"}
