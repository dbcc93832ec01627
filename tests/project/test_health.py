"""Liveness and readiness probes (project.health)."""

import httpx
import pytest

from project import health
from tests.frontend.live_server import asgi_server


@pytest.fixture(autouse=True)
def _fresh_redis_client():
    health._redis_client = None
    yield
    health._redis_client = None


@pytest.mark.django_db
def test_liveness_touches_neither_database_nor_redis(api_client, django_assert_num_queries, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there: liveness must not care
    with django_assert_num_queries(0):
        response = api_client.get("/api/health/live/")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/health/", "/api/health/ready/"])
def test_readiness_reports_every_check_ok(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "redis": "ok", "job_queue": "ok"}}


@pytest.mark.django_db
def test_readiness_is_503_naming_redis_when_redis_does_not_answer(api_client, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    response = api_client.get("/api/health/")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["code"] == "unavailable"
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["redis"] == "Redis does not answer"
    assert body["detail"] == "redis: Redis does not answer"
    assert response["Retry-After"] == "5"


@pytest.mark.server
def test_readiness_is_503_naming_the_database_when_it_does_not_answer(tmp_path):
    """A real server process whose database cannot be reached: liveness still 200, readiness 503."""
    from django.db import connection

    if connection.vendor == "postgresql":
        unreachable = "postgres://postgres@127.0.0.1:1/aperture_nowhere"
    else:
        unreachable = f"sqlite:///{tmp_path}/no/such/dir/db.sqlite3"
    with asgi_server(unreachable, {"REDIS_URL": ""}) as base_url:
        assert httpx.get(f"{base_url}/api/health/live/").status_code == 200
        response = httpx.get(f"{base_url}/api/health/", timeout=10, headers={"Accept-Language": "en"})
        chinese = httpx.get(f"{base_url}/api/health/", timeout=10, headers={"Accept-Language": "zh-CN"})
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["database"] == "the database does not answer"
    assert body["checks"]["job_queue"] == "not checked: the database does not answer"
    assert body["checks"]["redis"] == "ok"
    assert body["detail"].startswith("database: the database does not answer")
    assert chinese.status_code == 503
    assert chinese.json()["checks"]["database"] == "数据库无响应"
