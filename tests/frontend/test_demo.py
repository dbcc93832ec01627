import datetime as dt
import io

import pytest
from django.core.management import call_command

from accounts.models import Membership
from events.demo import DEMO_SERIES_SLUG
from events.models import City, Series, Session, Venue
from frontend.demo import load_demo
from registrations.models import PriorityCode
from streams.models import Stream

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo():
    return load_demo(today=dt.date(2026, 11, 25)).series


def test_demo_is_a_month_of_100_talks_and_27_night_shoots(demo):
    sessions = Session.objects.filter(series=demo)
    assert sessions.filter(kind=Session.Kind.TALK).count() == 100
    assert sessions.filter(kind=Session.Kind.NIGHT_SHOOT).count() == 27
    first, last = sessions.earliest("starts_at").starts_at, sessions.latest("starts_at").starts_at
    assert first.date() >= dt.date(2026, 12, 1) - dt.timedelta(days=1)
    assert last.date() <= dt.date(2026, 12, 31)


def test_demo_spans_at_least_12_real_cities_with_chinese_names(demo):
    cities = City.objects.filter(sessions__series=demo).distinct()
    assert cities.count() >= 12
    luoyang = City.objects.get(name="Luoyang")
    assert luoyang.local_name == "洛阳"
    assert luoyang.latitude == pytest.approx(34.62, abs=0.05)
    assert luoyang.longitude == pytest.approx(112.45, abs=0.05)


def test_demo_has_a_livestreamed_night_tour_at_a_grotto(demo):
    stream = Stream.objects.select_related("session__venue").get(session__series=demo)
    assert "Grottoes" in stream.session.venue.name
    assert stream.session.kind == Session.Kind.LIVESTREAM
    assert stream.session.venue.outdoor
    assert stream.session.starts_at.astimezone(dt.UTC).hour >= 12  # 20:00 or later in Luoyang


def test_demo_has_accounts_for_each_role_and_priority_codes(demo):
    from accounts.models import User

    assert User.objects.get(username="organizer").memberships.filter(role=Membership.Role.ORGANIZER).exists()
    assert User.objects.get(username="host").hosted_sessions.exists()
    assert User.objects.get(username="fan").check_password("aperture-fan")
    assert PriorityCode.objects.filter(series=demo).exists()
    assert PriorityCode.objects.filter(session__series=demo).exists()


def test_demo_session_capacities_fit_their_venues(demo):
    for session in Session.objects.filter(series=demo).select_related("venue"):
        assert 0 < session.capacity <= session.venue.max_capacity
        assert session.timezone == session.venue.timezone
    shoots = Session.objects.filter(series=demo, kind=Session.Kind.NIGHT_SHOOT)
    assert all(20 <= s.capacity <= 40 for s in shoots)


def test_loading_the_demo_twice_duplicates_nothing(demo):
    counts = [model.objects.count() for model in (Series, Session, City, Venue, Stream, PriorityCode, Membership)]
    call_command("load_demo", stdout=io.StringIO())
    assert [model.objects.count() for model in (Series, Session, City, Venue, Stream, PriorityCode, Membership)] == (
        counts
    )
    assert Series.objects.filter(slug=DEMO_SERIES_SLUG).count() == 1
