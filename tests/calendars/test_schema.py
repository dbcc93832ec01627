import pytest

pytestmark = pytest.mark.django_db


def test_every_calendar_endpoint_is_in_the_openapi_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    paths = schema["paths"]
    for path in ("/api/sessions/{id}/calendar.ics", "/api/series/{id}/calendar.ics", "/calendar/feed/{token}.ics"):
        operation = paths[path]["get"]
        assert "text/calendar" in operation["responses"]["200"]["content"], path
        assert "304" in operation["responses"]
    series = paths["/api/series/{id}/calendar.ics"]["get"]
    assert any(p["name"] == "city" and p["in"] == "query" for p in series["parameters"])
    feed = paths["/api/me/calendar-feed/"]
    assert set(feed) >= {"get", "delete"}
    ref = feed["get"]["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][ref.rsplit("/", 1)[1]]
    assert {"url", "webcal_url"} <= set(component["properties"])
    session = schema["components"]["schemas"]["Session"]["properties"]
    assert "calendar_links" in session
