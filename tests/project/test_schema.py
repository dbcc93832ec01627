"""The OpenAPI schema describes the contract's endpoints (../shared/API.md)."""

import pytest

pytestmark = pytest.mark.django_db

CONTRACT_PATHS = [
    "/api/auth/signup/",
    "/api/auth/token/",
    "/api/me/",
    "/api/cities/",
    "/api/cities/{id}/",
    "/api/venues/",
    "/api/venues/{id}/",
    "/api/series/",
    "/api/series/{id}/",
    "/api/sessions/",
    "/api/sessions/{id}/",
    "/api/streams/",
    "/api/streams/{id}/",
]


@pytest.fixture
def schema(api_client):
    response = api_client.get("/api/schema/?format=json")
    assert response.status_code == 200
    import json

    return json.loads(response.content)


def test_schema_is_openapi_3(schema):
    assert schema["openapi"].startswith("3.")


@pytest.mark.parametrize("path", CONTRACT_PATHS)
def test_schema_describes_contract_path(schema, path):
    assert path in schema["paths"]


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


def test_docs_page_is_served_without_a_cdn(client):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    assert b"cdn.jsdelivr" not in response.content
