"""The services refuse another organization's objects whatever calls them (API, admin, a script),
and the admin does not even offer them as choices."""

import datetime as dt

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from events.models import Session
from project.errors import ApplicationError
from registrations import services as registrations
from registrations.models import PriorityCode, Registration
from streams import services as streams
from tests.conftest import client_for
from tests.factories import (
    OrganizationFactory,
    PriorityCodeFactory,
    SessionFactory,
    StreamFactory,
    UserFactory,
    host_of,
    organizer_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def org_a():
    return OrganizationFactory(name="Organization Alpha")


@pytest.fixture
def org_b():
    return OrganizationFactory(name="Organization Bravo")


@pytest.fixture
def priority_only_session(org_a):
    """A session of A whose registration is open to priority-code holders only (for two more days)."""
    now = timezone.now()
    return SessionFactory(
        series__organization=org_a,
        title="Alpha priority-only session",
        registration_opens_at=now + dt.timedelta(days=2),
        priority_opens_at=now - dt.timedelta(days=1),
    )


def test_a_code_owned_by_another_organization_opens_nothing(org_b, priority_only_session):
    # As the old admin could save it: B's code pointing at A's session.
    PriorityCode.objects.create(organization=org_b, session=priority_only_session, code="BRAVO-KEY", max_uses=5)
    fan = UserFactory()
    response = client_for(fan).post(
        f"/api/sessions/{priority_only_session.id}/registrations/", {"priority_code": "BRAVO-KEY"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_code"
    assert not Registration.objects.filter(session=priority_only_session).exists()


def test_a_code_of_the_sessions_own_organization_still_opens_the_priority_window(org_a, priority_only_session):
    PriorityCode.objects.create(organization=org_a, session=priority_only_session, code="ALPHA-KEY", max_uses=5)
    response = client_for(UserFactory()).post(
        f"/api/sessions/{priority_only_session.id}/registrations/", {"priority_code": "ALPHA-KEY"}, format="json"
    )
    assert response.status_code == 201


def test_priority_code_service_refuses_a_session_the_user_does_not_organize(org_b, priority_only_session):
    with pytest.raises(ApplicationError) as refused:
        registrations.priority_code_create(by=organizer_of(org_b), session=priority_only_session, code="PLANTED")
    assert refused.value.status_code == 403
    assert not PriorityCode.objects.filter(code="PLANTED").exists()


def test_stream_services_refuse_a_session_of_another_organization_even_from_the_system(org_a, org_b):
    session_a = SessionFactory(series__organization=org_a, kind=Session.Kind.LIVESTREAM)
    own = StreamFactory(session=None, organization=org_b, title="Bravo stream")
    with pytest.raises(ApplicationError):
        streams.stream_update(stream=own, data={"session": session_a}, by=None)
    with pytest.raises(ApplicationError):
        streams.stream_create(organization=org_b, title="Planted", session=session_a, by=None)
    own.refresh_from_db()
    assert own.session_id is None
    assert not hasattr(session_a, "stream") or session_a.stream is None


def test_stream_services_refuse_an_organizer_of_another_organization(org_a, org_b):
    stream_a = StreamFactory(session__series__organization=org_a)
    intruder = organizer_of(org_b)
    for attempt in (
        lambda: streams.stream_create(organization=org_a, title="Planted", by=intruder),
        lambda: streams.stream_update(stream=stream_a, data={"playback_url": "https://evil.example/"}, by=intruder),
        lambda: streams.stream_rotate_secret(stream=stream_a, by=intruder),
        lambda: streams.stream_start(stream=stream_a, by=intruder),
    ):
        with pytest.raises(ApplicationError) as refused:
            attempt()
        assert refused.value.status_code == 403
    stream_a.refresh_from_db()
    assert stream_a.playback_url != "https://evil.example/"
    assert stream_a.status == "scheduled"


def test_stream_hosts_must_belong_to_the_streams_organization(org_a, org_b):
    own = StreamFactory(session=None, organization=org_b, title="Bravo stream")
    with pytest.raises(ApplicationError) as refused:
        streams.stream_update(stream=own, data={"hosts": [host_of(org_a)]}, by=None)
    assert "hosts" in refused.value.fields
    assert not own.hosts.exists()


@pytest.fixture
def staff_organizer_of_b(org_b):
    user = organizer_of(org_b, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["events", "registrations", "streams"])
    )
    return user


@pytest.mark.parametrize(
    "path",
    [
        "/admin/streams/stream/add/",
        "/admin/events/session/add/",
        "/admin/events/venue/add/",
        "/admin/events/series/add/",
        "/admin/registrations/prioritycode/add/",
        "/admin/registrations/prioritycode/",
        "/admin/events/session/",
        "/admin/events/venue/",
        "/admin/registrations/registration/",
        "/admin/streams/stream/",
    ],
)
def test_the_admin_offers_no_choice_of_another_organization(client, org_a, staff_organizer_of_b, path):
    session_a = SessionFactory(series__organization=org_a, hosts=[host_of(org_a, username="alpha_host")])
    StreamFactory(session__series=session_a.series)
    PriorityCodeFactory(series=None, session=session_a, organization=org_a)
    client.force_login(staff_organizer_of_b)
    page = client.get(path)
    assert page.status_code == 200
    for foreign in ("Organization Alpha", session_a.series.title, session_a.title, session_a.city.name, "alpha_host"):
        assert foreign.encode() not in page.content, foreign


def test_organizers_cannot_manage_people_or_memberships_in_the_admin(client, org_a, org_b, staff_organizer_of_b):
    staff_organizer_of_b.user_permissions.add(*Permission.objects.filter(content_type__app_label="accounts"))
    client.force_login(staff_organizer_of_b)
    for path in ("/admin/accounts/membership/add/", "/admin/accounts/user/", "/admin/accounts/organization/"):
        assert client.get(path).status_code == 403
    response = client.post(
        "/admin/accounts/membership/add/",
        {"user": staff_organizer_of_b.id, "organization": org_a.id, "role": "organizer"},
    )
    assert response.status_code == 403
    assert not staff_organizer_of_b.memberships.filter(organization=org_a).exists()
