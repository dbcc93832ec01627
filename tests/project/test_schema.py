"""The OpenAPI schema describes the contract's endpoints (../shared/API.md)."""

import json

import pytest

# Every endpoint of ../shared/API.md, with its methods.
CONTRACT = [
    ("/api/auth/signup/", "post"),
    ("/api/auth/token/", "post"),
    ("/api/me/", "get"),
    ("/api/cities/", "get"),
    ("/api/cities/", "post"),
    ("/api/cities/{id}/", "get"),
    ("/api/venues/", "get"),
    ("/api/venues/", "post"),
    ("/api/venues/{id}/", "get"),
    ("/api/series/", "get"),
    ("/api/series/", "post"),
    ("/api/series/{id}/", "get"),
    ("/api/series/{id}/plan/", "post"),
    ("/api/series/{id}/calendar.ics", "get"),
    ("/api/sessions/", "get"),
    ("/api/sessions/", "post"),
    ("/api/sessions/{id}/", "get"),
    ("/api/sessions/{id}/", "patch"),
    ("/api/sessions/{id}/cancel/", "post"),
    ("/api/sessions/{id}/registrations/", "post"),
    ("/api/sessions/{id}/checkin/", "post"),
    ("/api/sessions/{id}/calendar.ics", "get"),
    ("/api/me/registrations/", "get"),
    ("/api/registrations/{id}/", "delete"),
    ("/api/priority-codes/", "get"),
    ("/api/priority-codes/", "post"),
    ("/api/me/calendar-feed/", "get"),
    ("/api/me/calendar-feed/", "delete"),
    ("/calendar/feed/{token}.ics", "get"),
    ("/api/streams/", "get"),
    ("/api/streams/{id}/", "get"),
    ("/api/streams/{id}/start/", "post"),
    ("/api/streams/{id}/end/", "post"),
    ("/api/streams/{id}/stats/", "get"),
    ("/api/streams/{id}/external-counts/", "post"),
    ("/api/me/notifications/", "get"),
    ("/api/me/notifications/read/", "post"),
    ("/api/me/preferences/", "get"),
    ("/api/me/preferences/", "patch"),
    ("/api/messages/", "post"),
    ("/api/messages/{id}/", "get"),
]

CONTRACT_FIELDS = {
    "City": {"id", "name", "local_name", "latitude", "longitude", "timezone"},
    "Venue": {"id", "name", "city", "address", "latitude", "longitude", "timezone", "max_capacity"},
    "Series": {"id", "organization", "title", "description", "partners"},
    "Stream": {"id", "session", "title", "status", "playback_url", "hosts", "started_at", "ended_at"},
}


@pytest.fixture(scope="module")
def schema():
    """Generated once for the module: the same document /api/schema/ serves (checked below)."""
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    return json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))


@pytest.mark.django_db
def test_schema_endpoint_serves_the_schema(api_client, schema):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    assert set(json.loads(response.content)["paths"]) == set(schema["paths"])


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize(("path", "method"), CONTRACT)
def test_schema_describes_contract_endpoint(schema, path, method):
    assert method in schema["paths"].get(path, {}), f"{method.upper()} {path} is missing from the schema"


@pytest.mark.parametrize(("component", "fields"), CONTRACT_FIELDS.items())
def test_schema_components_have_the_contract_fields(schema, component, fields):
    assert fields <= set(schema["components"]["schemas"][component]["properties"])


def _response_properties(schema, path, method, status):
    content = schema["paths"][path][method]["responses"][status]["content"]["application/json"]["schema"]
    ref = content.get("$ref", "")
    return set(schema["components"]["schemas"][ref.rsplit("/", 1)[-1]]["properties"]) if ref else set()


def test_registration_response_has_the_contract_fields(schema):
    fields = _response_properties(schema, "/api/sessions/{id}/registrations/", "post", "201")
    assert fields >= {"id", "session", "status", "waitlist_position", "checkin_code", "created_at"}


def test_stream_stats_response_has_the_contract_fields(schema):
    fields = _response_properties(schema, "/api/streams/{id}/stats/", "get", "200")
    assert fields >= {"concurrent", "peak", "total_views", "unique_viewers", "timeline"}


def test_me_response_has_the_contract_fields(schema):
    assert _response_properties(schema, "/api/me/", "get", "200") >= {"id", "username", "email", "roles"}


def test_session_schema_has_every_contract_field(schema):
    fields = set(schema["components"]["schemas"]["Session"]["properties"])
    assert fields >= {
        "id", "series", "kind", "title", "description", "city", "venue", "hosts", "starts_at", "ends_at",
        "timezone", "capacity", "status", "registration_opens_at", "registration_closes_at", "priority_opens_at",
        "waitlist_enabled", "confirmed_count", "waitlist_count", "seats_left", "stream",
    }  # fmt: skip


def test_schema_generation_has_no_warnings():
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
    assert not GENERATOR_STATS._error_cache, list(GENERATOR_STATS._error_cache)


@pytest.mark.django_db
def test_docs_page_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content
