"""Bodies built to break parsers, on every operation of the schema: a clean JSON 4xx, never a 500."""

import re

import pytest
from django.contrib.auth.models import Permission
from drf_spectacular.generators import SchemaGenerator

from events.models import Session
from registrations.services import registration_create
from tests.conftest import client_for
from tests.factories import PriorityCodeFactory, SessionFactory, StreamFactory, organizer_of

pytestmark = pytest.mark.django_db

NESTED = {
    "list": "[" * 3000,
    "object": '{"a":' * 3000,
    "closed list": "[" * 3000 + "]" * 3000,
}


def _operations() -> list[tuple[str, str]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    return [
        (method, path)
        for path, item in schema["paths"].items()
        for method in item
        if method in ("post", "put", "patch", "delete")
    ]


@pytest.fixture
def organizer_world():
    session = SessionFactory()
    organization = session.series.organization
    organizer = organizer_of(organization, is_superuser=True, is_staff=True)
    organizer.user_permissions.add(*Permission.objects.all())
    stream = StreamFactory(session=SessionFactory(series=session.series, kind=Session.Kind.LIVESTREAM))
    registration = registration_create(session=session, fan=organizer)
    code = PriorityCodeFactory(series=session.series)
    ids = {"session": session.id, "series": session.series_id, "stream": stream.id, "registration": registration.id}
    ids |= {"code": code.id, "city": session.city_id, "venue": session.venue_id}
    return organizer, ids


def _concrete(path: str, ids: dict[str, int]) -> str:
    def replace(match: re.Match) -> str:
        before = path[: match.start()].rstrip("/").rsplit("/", 1)[-1]
        for name, value in ids.items():
            if before.startswith(name) or (name == "code" and before.startswith("priority")):
                return str(value)
        return str(ids["session"])

    return re.sub(r"\{[^}]+\}", replace, path)


@pytest.mark.parametrize("shape", NESTED)
def test_deeply_nested_json_on_every_operation_is_a_4xx(organizer_world, shape):
    organizer, ids = organizer_world
    client = client_for(organizer)
    answers = {}
    for method, path in _operations():
        url = _concrete(path, ids)
        response = getattr(client, method)(url, NESTED[shape], content_type="application/json")
        answers[(method, url)] = response.status_code
        assert response.status_code < 500, (method, url, response.content[:500])
    # Most of them read the body: those must have said it was malformed.
    assert sum(status == 400 for status in answers.values()) >= 10, answers


def test_a_plan_csv_with_a_field_over_the_csv_limit_is_a_400(organizer_world):
    organizer, ids = organizer_world
    body = "title,description\nA talk," + "x" * 131_073 + "\n"
    response = client_for(organizer).post(f"/api/series/{ids['series']}/plan/", body, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert "line" in response.json()["detail"].lower()
    assert Session.objects.filter(title="A talk").count() == 0


def test_a_plan_csv_with_a_nul_byte_is_a_400(organizer_world):
    organizer, ids = organizer_world
    response = client_for(organizer).post(
        f"/api/series/{ids['series']}/plan/", "title\nA\x00talk\n", content_type="text/csv"
    )
    assert response.status_code == 400
