"""The schema and the server agree (issue 10, point 10; the schemathesis run in .ci/schemathesis fuzzes
the same from outside): nullable fields say so, paging parameters are checked, every operation lists the
4xx answers it gives, a venue's zone is a real IANA zone, and permission comes before validation."""

import json

import pytest

from tests.conftest import client_for
from tests.factories import OrganizationFactory, SeriesFactory, SessionFactory, organizer_of


@pytest.fixture(scope="module")
def schema():
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


def _component(schema, name):
    return schema["components"]["schemas"][name]


@pytest.mark.parametrize("field", ["checked_in_at", "cancelled_at", "checkin_code", "waitlist_position"])
def test_registration_fields_that_may_be_null_are_nullable(schema, field):
    assert _component(schema, "Registration")["properties"][field].get("nullable") is True


def test_my_registration_session_venue_is_nullable(schema):
    assert _component(schema, "SessionSummary")["properties"]["venue"].get("nullable") is True


def _operations(schema):
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield path, method, operation


def test_every_error_answer_has_the_contract_error_body(schema):
    for path, method, operation in _operations(schema):
        for code, response in operation["responses"].items():
            if code.startswith("4"):
                ref = response["content"]["application/json"]["schema"]["$ref"]
                assert ref.endswith("/Error"), (method, path, code)
    assert {"detail", "code", "fields"} <= set(_component(schema, "Error")["properties"])


def test_operations_on_an_object_document_404_and_signed_in_ones_401(schema):
    for path, method, operation in _operations(schema):
        if "{" in path:
            assert "404" in operation["responses"], (method, path)
        if path.startswith("/api/") and method != "get" and path not in ("/api/auth/token/", "/api/auth/verify-email/"):
            assert "401" in operation["responses"], (method, path)


@pytest.mark.parametrize(
    ("path", "method", "code"),
    [
        ("/api/sessions/{id}/registrations/", "post", "409"),
        ("/api/sessions/{id}/checkin/", "post", "409"),
        ("/api/registrations/{id}/", "delete", "409"),
        ("/api/streams/{id}/start/", "post", "409"),
        ("/api/streams/{id}/end/", "post", "409"),
        ("/api/sessions/{id}/", "patch", "403"),
        ("/api/sessions/", "post", "403"),
        ("/api/series/{id}/conflicts/", "get", "403"),
        ("/api/sessions/{id}/publish/", "post", "400"),
        ("/api/sessions/", "get", "400"),
        ("/api/sessions/", "get", "429"),
    ],
)
def test_operation_documents_the_answers_it_gives(schema, path, method, code):
    assert code in schema["paths"][path][method]["responses"]


def test_public_reads_allow_anonymous_callers(schema):
    for path in ("/api/sessions/", "/api/cities/", "/api/streams/{id}/"):
        assert {} in schema["paths"][path]["get"]["security"], path
    assert {} not in schema["paths"]["/api/sessions/"]["post"]["security"]


def test_query_parameters_may_be_empty(schema):
    parameters = schema["paths"]["/api/sessions/"]["get"]["parameters"]
    assert all(p.get("allowEmptyValue") for p in parameters if p["in"] == "query")
    page_size = next(p for p in parameters if p["name"] == "page_size")
    assert page_size["schema"]["minimum"] == 1


def test_request_bodies_are_json_except_the_plan_upload(schema):
    for path, method, operation in _operations(schema):
        content = set(operation.get("requestBody", {}).get("content", {}))
        if path == "/api/series/{id}/plan/":
            assert {"application/json", "text/csv", "multipart/form-data"} <= content
        else:
            assert content <= {"application/json"}, (method, path, content)


# --- the server says what the schema says ------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query",
    ["page_size=true", "page_size=0", "page_size=-3", "page_size=1.5", "page=0", "page=abc", "page=-1", "page=1e3"],
)
@pytest.mark.parametrize("path", ["/api/sessions/", "/api/cities/", "/api/streams/"])
def test_bad_paging_parameters_are_400(api_client, path, query):
    response = api_client.get(f"{path}?{query}")
    assert response.status_code == 400, (path, query, response.content)
    assert response.json()["code"] == "invalid"
    assert query.split("=")[0] in response.json()["fields"]


@pytest.mark.django_db
def test_paging_still_works(api_client):
    series = SeriesFactory()
    for _ in range(3):
        SessionFactory(series=series, status="published")
    body = api_client.get("/api/sessions/?page_size=2&page=2").json()
    assert body["count"] == 3 and len(body["results"]) == 1
    assert len(api_client.get("/api/sessions/?page_size=500").json()["results"]) == 3  # cut to 200
    assert api_client.get("/api/sessions/?page=last&page_size=2").status_code == 200
    assert api_client.get("/api/sessions/?page=&page_size=").status_code == 200
    assert api_client.get("/api/sessions/?page=9&page_size=2").status_code == 404


@pytest.mark.django_db
@pytest.mark.parametrize("zone", ["localtime", "posixrules", "Factory", "asia/shanghai", "Mars/Olympus"])
def test_a_venue_or_city_zone_must_be_a_place(organization, organizer, zone):
    from events.models import City

    client = client_for(organizer)
    city = client.post(
        "/api/cities/", {"name": "Luoyang", "latitude": 34.6, "longitude": 112.4, "timezone": "Asia/Shanghai"}
    ).json()
    response = client.post("/api/venues/", {"city": city["id"], "name": "Hall", "max_capacity": 10, "timezone": zone})
    assert response.status_code == 400, response.content
    assert "timezone" in response.json()["fields"]
    response = client.post("/api/cities/", {"name": "X", "latitude": 1, "longitude": 1, "timezone": zone})
    assert response.status_code == 400
    assert City.objects.count() == 1


@pytest.mark.django_db
def test_a_link_name_of_a_real_zone_is_still_accepted(organization, organizer):
    response = client_for(organizer).post(
        "/api/cities/", {"name": "Beijing", "latitude": 39.9, "longitude": 116.4, "timezone": "PRC"}
    )
    assert response.status_code == 201


BAD_BODY = {"title": 5, "starts_at": "yesterday", "capacity": -1, "name": [], "max_capacity": "many"}


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["sessions", "venues", "cities", "series"])
def test_permission_is_checked_before_the_body(organization, fan, host, kind):
    """A fan, a host and another organization's organizer learn nothing about the body's faults."""
    series = SeriesFactory(organization=organization)
    session = SessionFactory(series=series, status="published")
    objects = {"sessions": session, "venues": session.venue, "cities": session.city, "series": series}
    url = f"/api/{kind}/{objects[kind].id}/"
    for user in (fan, host, organizer_of(OrganizationFactory())):
        response = client_for(user).patch(url, BAD_BODY)
        assert response.status_code == 403, (user, response.content)
        assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
def test_another_organizations_organizer_cannot_cancel_or_publish_with_a_bad_body(organization):
    session = SessionFactory(series=SeriesFactory(organization=organization), status="published")
    outsider = client_for(organizer_of(OrganizationFactory()))
    assert outsider.post(f"/api/sessions/{session.id}/cancel/", {"reason": 5}).status_code == 403
    assert outsider.post(f"/api/series/{session.series_id}/cancel/", {}).status_code == 403
    assert outsider.post(f"/api/series/{session.series_id}/plan/", {"x": 1}).status_code == 403


@pytest.mark.django_db
def test_a_number_where_text_is_expected_is_refused(organization, organizer):
    session = SessionFactory(series=SeriesFactory(organization=organization), status="published")
    response = client_for(organizer).post(f"/api/sessions/{session.id}/cancel/", {"reason": 0})
    assert response.status_code == 400
    assert "reason" in response.json()["fields"]
    session.refresh_from_db()
    assert session.status == "published"


@pytest.mark.django_db
def test_a_text_longer_than_its_maximum_is_refused_even_when_it_starts_with_whitespace(organization, organizer):
    # schemathesis found it: DRF trimmed the leading U+001C and then measured 2,000 characters.
    session = SessionFactory(series=SeriesFactory(organization=organization), status="published")
    too_long = "\u001c" + "*" * 2000
    response = client_for(organizer).post(f"/api/sessions/{session.id}/cancel/", {"reason": too_long})
    assert response.status_code == 400
    assert "reason" in response.json()["fields"]
    session.refresh_from_db()
    assert session.status == "published"


@pytest.mark.django_db
def test_a_time_before_the_venues_zone_kept_standard_time_is_still_rfc_3339(organization, organizer):
    # schemathesis found it: Shanghai's offset before 1901 was +08:05:43, which RFC 3339 cannot write.
    import datetime as dt
    import re

    session = SessionFactory(series=SeriesFactory(organization=organization), timezone="Asia/Shanghai")
    sent = "0095-04-25T14:02:03+08:00"
    response = client_for(organizer).patch(f"/api/sessions/{session.id}/", {"entry_opens_at": sent})
    assert response.status_code == 200, response.json()
    shown = response.json()["entry_opens_at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d([+-]\d\d:\d\d|Z)", shown), shown
    assert dt.datetime.fromisoformat(shown) == dt.datetime.fromisoformat(sent)
    assert client_for(organizer).get(f"/api/sessions/{session.id}/").json()["starts_at"].endswith("+08:00")


@pytest.mark.django_db
def test_a_form_body_is_refused_with_415(organization, organizer):
    from django.test import Client

    client = Client()
    client.force_login(organizer)
    response = client.post("/api/series/", {"title": "Form"})  # multipart, as a browser form sends it
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_media_type"
