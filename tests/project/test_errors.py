"""Bad input anywhere is a JSON 4xx in the contract's shape, never a 500 or an HTML page."""

import pytest

from tests.factories import SessionFactory

pytestmark = pytest.mark.django_db


def assert_contract_error(response, status: int) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) >= {"detail", "code", "fields"}
    assert isinstance(body["detail"], str) and body["detail"]
    return body


def test_malformed_json_is_a_parse_error(api_client):
    response = api_client.generic("POST", "/api/auth/signup/", "{not json", content_type="application/json")
    assert assert_contract_error(response, 400)["code"] == "parse_error"


def test_wrong_types_name_the_field(api_client):
    response = api_client.post("/api/auth/signup/", {"username": ["a"], "email": 5, "password": None}, format="json")
    body = assert_contract_error(response, 400)
    assert body["code"] == "invalid"
    assert {"username", "email", "password"} <= set(body["fields"])


@pytest.mark.parametrize(
    "path",
    ["/api/sessions/0/", "/api/sessions/abc/", "/api/cities/999/", "/api/venues/x/", "/api/streams/42/", "/api/nope/"],
)
def test_unknown_ids_and_paths_are_json_404(api_client, path):
    assert assert_contract_error(api_client.get(path), 404)["code"] == "not_found"


@pytest.mark.parametrize(
    "query",
    [
        "starts_after=2026-12-01T19:00:00",
        "starts_before=tomorrow",
        "city=beijing",
        "series=1.5",
        "available=maybe",
        "kind=party",
        "page_size=abc",
    ],
)
def test_bad_filters_are_json_400_never_500(api_client, query):
    SessionFactory()
    response = api_client.get(f"/api/sessions/?{query}")
    body = assert_contract_error(response, 400)  # page_size=abc too: refused, not ignored (issue 10)
    assert body["fields"]


def test_a_page_past_the_end_is_json_404(api_client):
    SessionFactory()
    assert_contract_error(api_client.get("/api/sessions/?page=99"), 404)


def test_page_size_is_capped_at_200(api_client):
    SessionFactory.create_batch(3)
    response = api_client.get("/api/sessions/?page_size=5000")
    assert response.status_code == 200
    assert set(response.json()) == {"count", "next", "previous", "results"}


def test_writing_to_a_read_endpoint_anonymously_is_401_json(api_client):
    assert_contract_error(api_client.post("/api/cities/", {"name": "x"}), 401)


def test_wrong_method_is_405_json(as_user, fan):
    body = assert_contract_error(as_user(fan).put("/api/me/", {}), 405)
    assert body["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path",
    [
        "/api/sessions/?series=964437278355092144128",
        "/api/sessions/?city=-321714710919937383966469775163392",
        "/api/sessions/112221511129804857933824/",
        "/api/series/112221511129804857933824/calendar.ics",
        "/api/streams/17885122476645400759989486747648/stats/",
    ],
)
def test_numbers_beyond_64_bits_are_refused_not_500(api_client, path):
    response = api_client.get(path)
    assert 400 <= response.status_code < 500
    assert response["Content-Type"].startswith("application/json")


@pytest.mark.parametrize(
    "starts_at",
    [
        "2026-12-01T12:99:00+08:00",  # an impossible minute
        "0001-01-01T00:10:00+08:00",  # before year 1 once converted to UTC
    ],
)
def test_an_impossible_start_is_a_field_error(as_user, organization, organizer, starts_at):
    from tests.factories import SeriesFactory, VenueFactory

    series = SeriesFactory(organization=organization)
    venue = VenueFactory(city__organization=organization)
    response = as_user(organizer).post(
        "/api/sessions/",
        {"series": series.id, "venue": venue.id, "title": "x", "capacity": 10, "kind": "talk",
         "starts_at": starts_at, "ends_at": "2026-12-01T14:00:00+08:00"},
    )  # fmt: skip
    assert assert_contract_error(response, 400)["fields"]["starts_at"]


def test_huge_host_ids_in_a_body_are_refused(as_user, organization, organizer):
    from tests.factories import SessionFactory

    session = SessionFactory(series__organization=organization, status="draft")
    response = as_user(organizer).patch(f"/api/sessions/{session.id}/", {"hosts": [4605074458983310682258145280]})
    assert 400 <= response.status_code < 500


def test_a_database_that_refuses_connections_is_a_json_503(api_client, monkeypatch):
    from django.db import OperationalError

    from events import apis

    def refuse(*args, **kwargs):
        raise OperationalError("FATAL: sorry, too many clients already")

    monkeypatch.setattr(apis.SessionViewSet, "get_queryset", refuse)
    response = api_client.get("/api/sessions/")
    assert assert_contract_error(response, 503)["code"] == "service_unavailable"
    assert response["Retry-After"]


def test_throttles_ignore_a_forged_forwarded_for_by_default(rf):
    from rest_framework.request import Request
    from rest_framework.throttling import AnonRateThrottle

    request = Request(rf.get("/", HTTP_X_FORWARDED_FOR="1.2.3.4", REMOTE_ADDR="10.0.0.9"))
    assert AnonRateThrottle().get_ident(request) == "10.0.0.9"
