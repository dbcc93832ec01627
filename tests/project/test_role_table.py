"""One table of (role x object x action), checked over the REST API and through the admin.

Organization A is attacked; B is a second organization whose organizer, host and fan try to write
into A. Every role is made staff with every planning permission (the worst case: a careless
superuser's grant), so the admin's answer rests on organization scoping and the services alone.
Each row says who may do it; a row is checked by the state of the database, not by status codes:
an allowed role must have changed it (so the row can fail), every other role must have changed nothing.
"""

import datetime as dt
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from django.db.models import Q
from django.test import Client
from django.utils import timezone

from events.models import Session
from registrations.models import PriorityCode
from streams.models import Stream
from tests.conftest import client_for
from tests.factories import (
    OrganizationFactory,
    PriorityCodeFactory,
    SeriesFactory,
    SessionFactory,
    StreamFactory,
    UserFactory,
    host_of,
    organizer_of,
)

pytestmark = pytest.mark.django_db

ROLES = ["anonymous", "fan_b", "host_b", "organizer_b", "host_a", "organizer_a", "organizer_ab"]
EVIL_URL = "https://evil.example/live.m3u8"


class World:
    """Organization A (attacked) and B, their people, plan, streams and a priority code."""

    def __init__(self) -> None:
        self.org_a, self.org_b = OrganizationFactory(), OrganizationFactory()
        self.users = {
            "anonymous": None,
            "fan_b": UserFactory(),
            "host_b": host_of(self.org_b),
            "organizer_b": organizer_of(self.org_b),
            "host_a": host_of(self.org_a),
            "organizer_a": organizer_of(self.org_a),
            "organizer_ab": organizer_of(self.org_a),
        }
        organizer_of(self.org_b)  # another organizer of B
        from accounts.models import Membership

        Membership.objects.create(user=self.users["organizer_ab"], organization=self.org_b, role="organizer")
        planning = Permission.objects.filter(content_type__app_label__in=["events", "registrations", "streams"])
        for user in self.users.values():
            if user is not None:
                user.is_staff = True
                user.save(update_fields=["is_staff"])
                user.user_permissions.add(*planning)
        self.series_a = SeriesFactory(organization=self.org_a)
        self.session_a = SessionFactory(series=self.series_a)
        self.venue_a, self.city_a = self.session_a.venue, self.session_a.city
        later = self.session_a.starts_at + dt.timedelta(days=3)
        self.live_a = SessionFactory(series=self.series_a, kind=Session.Kind.LIVESTREAM, starts_at=later)
        self.stream_a = StreamFactory(session__series=self.series_a, session__starts_at=later + dt.timedelta(days=1))
        self.code_a = PriorityCodeFactory(series=self.series_a, max_uses=3)
        self.series_b = SeriesFactory(organization=self.org_b)
        self.session_b = SessionFactory(series=self.series_b)
        self.stream_b = StreamFactory(session=None, organization=self.org_b, title="B's own stream")
        self.start = (timezone.now() + dt.timedelta(days=50)).replace(hour=12, minute=0, second=0, microsecond=0)


@pytest.fixture
def world(settings) -> World:
    settings.TIME_ZONE = "UTC"  # the admin's forms read times in this zone
    return World()


# --- the admin's forms, as a browser posts them ------------------------------------------------


def _when(prefix: str, moment: dt.datetime | None, zone: str = "UTC") -> dict:
    """An admin date/time pair, on the clock the admin reads it in (a session's: its venue's)."""
    if moment is None:
        return {f"{prefix}_0": "", f"{prefix}_1": ""}
    local = moment.astimezone(zoneinfo.ZoneInfo(zone))
    return {f"{prefix}_0": local.strftime("%Y-%m-%d"), f"{prefix}_1": local.strftime("%H:%M:%S")}


def _no_inlines(prefix: str) -> dict:
    return {f"{prefix}-TOTAL_FORMS": "0", f"{prefix}-INITIAL_FORMS": "0", f"{prefix}-MAX_NUM_FORMS": "1000"}


def _stream_form(w: World, stream: Stream | None = None, **changes) -> dict:
    data = {
        "organization": stream.organization_id if stream else w.org_a.id,
        "title": stream.title if stream else "Planted stream",
        "session": (stream.session_id or "") if stream else "",
        "playback_url": stream.playback_url if stream else "",
        "audience": stream.audience if stream else "public",
        "replay_url": stream.replay_url if stream else "",
        "hosts": [h.id for h in stream.hosts.all()] if stream else [],
        **_no_inlines("external_counts"),
    }
    return data | changes


def _code_form(w: World, **changes) -> dict:
    # ``organization`` is read-only in the form (the code's target decides it): a crafted post sends it anyway.
    data = {"organization": w.org_a.id, "code": "", "series": "", "session": "", "max_uses": "1", "batch": ""}
    return data | _when("expires_at", None) | changes


def _session_form(w: World, session: Session | None = None, **changes) -> dict:
    s = session
    zone = s.timezone if s else w.city_a.timezone
    data = {
        "series": s.series_id if s else w.series_a.id,
        "kind": s.kind if s else "livestream",
        "title": s.title if s else "Planted session",
        "description": s.description if s else "",
        "city": s.city_id if s else w.city_a.id,
        "venue": (s.venue_id or "") if s else "",
        "hosts": [h.id for h in s.hosts.all()] if s else [],
        **_when("starts_at", s.starts_at if s else w.start, zone),
        **_when("ends_at", s.ends_at if s else w.start + dt.timedelta(hours=2), zone),
        "capacity": s.capacity if s else 0,
        "waitlist_enabled": "on",
        **_when("priority_opens_at", s.priority_opens_at if s else None, zone),
        **_when("registration_opens_at", s.registration_opens_at if s else None, zone),
        **_when("registration_closes_at", s.registration_closes_at if s else None, zone),
    }
    return data | changes


# --- the table ----------------------------------------------------------------------------------


@dataclass
class Row:
    """One (object, action): how to try it over REST and in the admin, and whether it happened."""

    name: str
    allowed: set[str]
    rest: Callable[[object, World], object]
    admin: Callable[[Client, World], object]
    happened: Callable[[World], bool]


def _url(model: str, obj=None) -> str:
    return f"/admin/{model}/{obj.id}/change/" if obj is not None else f"/admin/{model}/add/"


ORGANIZERS_OF_A = {"organizer_a", "organizer_ab"}

TABLE = [
    Row(
        "priority code: create for A's session",
        ORGANIZERS_OF_A,
        rest=lambda c, w: c.post(
            "/api/priority-codes/", {"session": w.session_a.id, "code": "PLANTED1", "max_uses": 5}, format="json"
        ),
        admin=lambda c, w: c.post(
            _url("registrations/prioritycode"), _code_form(w, code="PLANTED1", session=w.session_a.id, max_uses="5")
        ),
        happened=lambda w: PriorityCode.objects.filter(code="PLANTED1").exists(),
    ),
    Row(
        "priority code: create for A's series",
        ORGANIZERS_OF_A,
        rest=lambda c, w: c.post("/api/priority-codes/", {"series": w.series_a.id, "code": "PLANTED2"}, format="json"),
        admin=lambda c, w: c.post(
            _url("registrations/prioritycode"), _code_form(w, code="PLANTED2", series=w.series_a.id)
        ),
        happened=lambda w: PriorityCode.objects.filter(code="PLANTED2").exists(),
    ),
    Row(
        "priority code: change A's code",
        ORGANIZERS_OF_A,
        rest=lambda c, w: c.patch(f"/api/priority-codes/{w.code_a.id}/", {"max_uses": 99}, format="json"),
        admin=lambda c, w: c.post(
            _url("registrations/prioritycode", w.code_a),
            _code_form(w, code=w.code_a.code, series=w.series_a.id, max_uses="99"),
        ),
        happened=lambda w: PriorityCode.objects.get(id=w.code_a.id).max_uses == 99,
    ),
    Row(
        "stream: attach a new stream to A's session",
        ORGANIZERS_OF_A,
        rest=lambda c, w: c.post(
            "/api/streams/", {"title": "Planted", "session": w.live_a.id, "playback_url": EVIL_URL}, format="json"
        ),
        admin=lambda c, w: c.post(_url("streams/stream"), _stream_form(w, session=w.live_a.id, playback_url=EVIL_URL)),
        happened=lambda w: Stream.objects.filter(session=w.live_a).exists(),
    ),
    Row(
        "stream: a stream of B attached to A's session (nobody)",
        set(),
        rest=lambda c, w: c.post(
            "/api/streams/",
            {"title": "Planted", "organization": w.org_b.id, "session": w.live_a.id, "playback_url": EVIL_URL},
            format="json",
        ),
        admin=lambda c, w: c.post(
            _url("streams/stream"), _stream_form(w, organization=w.org_b.id, session=w.live_a.id, playback_url=EVIL_URL)
        ),
        happened=lambda w: Stream.objects.filter(session=w.live_a).exists(),
    ),
    Row(
        "stream: move B's own stream into A's session (nobody)",
        set(),
        rest=lambda c, w: c.patch(f"/api/streams/{w.stream_b.id}/", {"session": w.live_a.id}, format="json"),
        admin=lambda c, w: c.post(_url("streams/stream", w.stream_b), _stream_form(w, w.stream_b, session=w.live_a.id)),
        happened=lambda w: Stream.objects.filter(session=w.live_a).exists(),
    ),
    Row(
        "stream: move B's own stream into organization A (nobody)",
        set(),
        rest=lambda c, w: c.patch(f"/api/streams/{w.stream_b.id}/", {"organization": w.org_a.id}, format="json"),
        admin=lambda c, w: c.post(
            _url("streams/stream", w.stream_b), _stream_form(w, w.stream_b, organization=w.org_a.id)
        ),
        happened=lambda w: Stream.objects.get(id=w.stream_b.id).organization_id == w.org_a.id,
    ),
    Row(
        "stream: change the playback URL of A's stream",
        ORGANIZERS_OF_A,
        rest=lambda c, w: c.patch(f"/api/streams/{w.stream_a.id}/", {"playback_url": EVIL_URL}, format="json"),
        admin=lambda c, w: c.post(
            _url("streams/stream", w.stream_a), _stream_form(w, w.stream_a, playback_url=EVIL_URL)
        ),
        happened=lambda w: Stream.objects.get(id=w.stream_a.id).playback_url == EVIL_URL,
    ),
    Row(
        "stream: set status and secret of A's stream directly (nobody: start, end and rotation only)",
        set(),
        rest=lambda c, w: c.patch(
            f"/api/streams/{w.stream_a.id}/", {"status": "live", "external_secret": "planted"}, format="json"
        ),
        admin=lambda c, w: c.post(
            _url("streams/stream", w.stream_a),
            _stream_form(w, w.stream_a, status="live", external_secret="planted"),
        ),
        happened=lambda w: (
            Stream.objects.filter(id=w.stream_a.id).filter(Q(status="live") | Q(external_secret="planted")).exists()
        ),
    ),
    Row(
        "stream: A's host made a host of B's stream (nobody: hosts are the organization's members)",
        set(),
        rest=lambda c, w: c.patch(f"/api/streams/{w.stream_b.id}/", {"hosts": [w.users["host_a"].id]}, format="json"),
        admin=lambda c, w: c.post(
            _url("streams/stream", w.stream_b), _stream_form(w, w.stream_b, hosts=[w.users["host_a"].id])
        ),
        happened=lambda w: Stream.objects.get(id=w.stream_b.id).hosts.filter(id=w.users["host_a"].id).exists(),
    ),
    Row(
        "session: plan one in A's series",
        ORGANIZERS_OF_A,
        rest=lambda c, w: c.post(
            "/api/sessions/",
            {
                "series": w.series_a.id,
                "kind": "livestream",
                "title": "Planted session",
                "city": w.city_a.id,
                "starts_at": w.start.isoformat(),
                "ends_at": (w.start + dt.timedelta(hours=2)).isoformat(),
            },
            format="json",
        ),
        admin=lambda c, w: c.post(_url("events/session"), _session_form(w)),
        happened=lambda w: Session.objects.filter(title="Planted session").exists(),
    ),
    Row(
        "session: plan one of B at A's venue (nobody)",
        set(),
        rest=lambda c, w: c.post(
            "/api/sessions/",
            {
                "series": w.series_b.id,
                "kind": "talk",
                "title": "Planted session",
                "venue": w.venue_a.id,
                "starts_at": w.start.isoformat(),
                "ends_at": (w.start + dt.timedelta(hours=2)).isoformat(),
            },
            format="json",
        ),
        admin=lambda c, w: c.post(
            _url("events/session"),
            _session_form(w, series=w.series_b.id, kind="talk", venue=w.venue_a.id, city=w.city_a.id),
        ),
        happened=lambda w: Session.objects.filter(title="Planted session").exists(),
    ),
    Row(
        "session: rename A's session",
        ORGANIZERS_OF_A,
        rest=lambda c, w: c.patch(f"/api/sessions/{w.session_a.id}/", {"title": "Renamed"}, format="json"),
        admin=lambda c, w: c.post(_url("events/session", w.session_a), _session_form(w, w.session_a, title="Renamed")),
        happened=lambda w: Session.objects.get(id=w.session_a.id).title == "Renamed",
    ),
    Row(
        "venue: add one in A's city",
        ORGANIZERS_OF_A,
        rest=lambda c, w: c.post(
            "/api/venues/", {"city": w.city_a.id, "name": "Planted hall", "max_capacity": 10}, format="json"
        ),
        admin=lambda c, w: c.post(
            _url("events/venue"),
            {
                "organization": w.org_a.id,
                "city": w.city_a.id,
                "name": "Planted hall",
                "address": "",
                "latitude": "34.6",
                "longitude": "112.4",
                "timezone": "Asia/Shanghai",
                "max_capacity": "10",
            },
        ),
        happened=lambda w: w.city_a.venues.filter(name="Planted hall").exists(),
    ),
    Row(
        "series: add one to organization A",
        ORGANIZERS_OF_A,
        rest=lambda c, w: c.post(
            "/api/series/", {"organization": w.org_a.id, "title": "Planted series"}, format="json"
        ),
        admin=lambda c, w: c.post(
            _url("events/series"),
            {
                "organization": w.org_a.id,
                "title": "Planted series",
                "slug": "planted-series",
                "description": "",
                "partners": "[]",
                **_no_inlines("sessions"),
            },
        ),
        happened=lambda w: w.org_a.series.filter(title="Planted series").exists(),
    ),
]


def _rest_client(w: World, role: str):
    return client_for(w.users[role])


def _admin_client(w: World, role: str) -> Client:
    client = Client()
    if w.users[role] is not None:
        client.force_login(w.users[role])
    return client


class _Undo(Exception):
    """Rolls back one role's attempt, so that the next role meets the same world."""


def _attempt(row: Row, world: World, role: str, channel: str) -> bool:
    """Whether the role's try changed the database (rolled back afterwards)."""
    try:
        with transaction.atomic():
            if channel == "rest":
                response = row.rest(_rest_client(world, role), world)
            else:
                response = row.admin(_admin_client(world, role), world)
            assert response.status_code < 500, (role, channel, response.content[:3000])
            happened = row.happened(world)
            raise _Undo
    except _Undo:
        return happened


@pytest.mark.parametrize("channel", ["rest", "admin"])
@pytest.mark.parametrize("row", TABLE, ids=[row.name for row in TABLE])
def test_only_the_allowed_roles_can(world, row: Row, channel: str):
    assert not row.happened(world)
    outcome = {role: _attempt(row, world, role, channel) for role in ROLES}
    assert outcome == {role: role in row.allowed for role in ROLES}
