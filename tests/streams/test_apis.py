import datetime as dt
import json
import time

import pytest
from django.utils import timezone

from events.models import Session
from streams import services
from streams.models import Stream, ViewerSample
from streams.presence import Figures, reset_backend
from tests.conftest import client_for
from tests.factories import SessionFactory, StreamFactory, host_of, organizer_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def stream(organization, host):
    session = SessionFactory(series__organization=organization, kind=Session.Kind.LIVESTREAM)
    return StreamFactory(session=session, hosts=[host])


def signed(stream: Stream, payload: dict, secret: str | None = None) -> tuple[bytes, str]:
    body = json.dumps(payload).encode()
    return body, services.external_signature(secret=secret or stream.external_secret, body=body)


def post_external(client, stream, payload, signature="__sign__", secret=None):
    body, good = signed(stream, payload, secret)
    headers = {} if signature is None else {"HTTP_X_SIGNATURE": good if signature == "__sign__" else signature}
    return client.post(
        f"/api/streams/{stream.id}/external-counts/", data=body, content_type="application/json", **headers
    )


def now_iso(delta: float = 0) -> str:
    return (timezone.now() + dt.timedelta(seconds=delta)).isoformat()


# --- planning streams -----------------------------------------------------------------------------


def test_organizer_creates_stream_for_a_session_of_the_organization(organization, organizer, host):
    session = SessionFactory(series__organization=organization, kind=Session.Kind.LIVESTREAM)
    response = client_for(organizer).post(
        "/api/streams/",
        {"session": session.id, "title": "Grotto night tour", "playback_url": "https://x.example/a.m3u8",
         "hosts": [host.id]},
    )  # fmt: skip
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "scheduled"
    assert body["hosts"] == [host.id]
    assert body["organization"] == organization.id
    assert Stream.objects.get(id=body["id"]).session_id == session.id


def test_organizer_of_one_organization_may_leave_it_out(organization, organizer):
    response = client_for(organizer).post("/api/streams/", {"title": "Studio talk"})
    assert response.status_code == 201
    assert Stream.objects.get(id=response.json()["id"]).organization_id == organization.id


@pytest.mark.parametrize("who", ["host", "fan"])
def test_hosts_and_fans_cannot_create_streams(who, organization, host, fan):
    user = {"host": host, "fan": fan}[who]
    response = client_for(user).post("/api/streams/", {"title": "Mine"})
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert not Stream.objects.exists()


def test_anonymous_cannot_create_streams(api_client):
    response = api_client.post("/api/streams/", {"title": "Mine"})
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"


def test_organizer_cannot_stream_another_organizations_session(organizer):
    foreign = SessionFactory()
    response = client_for(organizer).post("/api/streams/", {"title": "X", "session": foreign.id})
    assert response.status_code == 403
    assert not Stream.objects.exists()


def test_a_session_has_at_most_one_stream(organizer, stream):
    response = client_for(organizer).post("/api/streams/", {"title": "Again", "session": stream.session_id})
    assert response.status_code == 400
    assert response.json()["code"] == "conflict"
    assert Stream.objects.count() == 1


def test_organizer_edits_stream_but_hosts_and_fans_cannot(organizer, host, fan, stream, api_client):
    assert client_for(organizer).patch(f"/api/streams/{stream.id}/", {"title": "New"}).status_code == 200
    assert client_for(host).patch(f"/api/streams/{stream.id}/", {"title": "H"}).status_code == 403
    assert client_for(fan).patch(f"/api/streams/{stream.id}/", {"title": "F"}).status_code == 403
    assert api_client.patch(f"/api/streams/{stream.id}/", {"title": "A"}).status_code == 401
    stream.refresh_from_db()
    assert stream.title == "New"


def test_status_cannot_be_patched(organizer, stream):
    response = client_for(organizer).patch(f"/api/streams/{stream.id}/", {"status": "live"})
    assert response.status_code == 200
    stream.refresh_from_db()
    assert stream.status == "scheduled"


def test_secret_is_shown_to_organizers_only(organizer, host, fan, stream, api_client):
    assert client_for(organizer).get(f"/api/streams/{stream.id}/").json()["external_secret"] == stream.external_secret
    for client in (client_for(host), client_for(fan), api_client):
        assert client.get(f"/api/streams/{stream.id}/").json()["external_secret"] is None


def test_organizer_rotates_the_secret(organizer, host, stream):
    old = stream.external_secret
    assert client_for(host).post(f"/api/streams/{stream.id}/rotate-secret/").status_code == 403
    response = client_for(organizer).post(f"/api/streams/{stream.id}/rotate-secret/")
    assert response.status_code == 200
    assert response.json()["external_secret"] not in (None, old)


# --- start and end ----------------------------------------------------------------------------------


def test_stream_host_starts_and_ends_the_stream(host, stream):
    client = client_for(host)
    response = client.post(f"/api/streams/{stream.id}/start/")
    assert response.status_code == 200
    assert response.json()["status"] == "live"
    assert response.json()["started_at"]
    assert client.post(f"/api/streams/{stream.id}/start/").json()["code"] == "already_live"
    response = client.post(f"/api/streams/{stream.id}/end/")
    assert response.status_code == 200
    assert response.json()["status"] == "ended"
    assert client.post(f"/api/streams/{stream.id}/end/").status_code == 409
    assert client.post(f"/api/streams/{stream.id}/start/").json()["code"] == "ended"


def test_organizer_may_start_a_stream(organizer, stream):
    assert client_for(organizer).post(f"/api/streams/{stream.id}/start/").status_code == 200


def test_fans_and_other_hosts_cannot_start(organization, fan, stream, api_client):
    other_host = host_of(organization)
    assert client_for(fan).post(f"/api/streams/{stream.id}/start/").status_code == 403
    assert client_for(other_host).post(f"/api/streams/{stream.id}/start/").status_code == 403
    assert api_client.post(f"/api/streams/{stream.id}/start/").status_code == 401
    stream.refresh_from_db()
    assert stream.status == "scheduled"


def test_organizer_of_another_organization_cannot_start(stream):
    stranger = organizer_of(StreamFactory().organization)
    assert client_for(stranger).post(f"/api/streams/{stream.id}/start/").status_code == 403


# --- stats -----------------------------------------------------------------------------------------


def test_stats_have_the_contract_shape_for_anyone(stream, api_client):
    body = api_client.get(f"/api/streams/{stream.id}/stats/").json()
    assert {"concurrent", "peak", "total_views", "unique_viewers", "timeline"} <= set(body)
    assert body["concurrent"] == 0
    assert "platforms" not in body


def test_saved_figures_survive_a_restart(host, stream, api_client):
    services.stream_start(stream=stream)
    at = timezone.now()
    services.stream_record_figures(stream_id=stream.id, figures=Figures(7, 9, 12, 8, {"web": 7}), at=at)
    reset_backend()  # a fresh process: nothing in memory
    body = api_client.get(f"/api/streams/{stream.id}/stats/").json()
    assert (body["peak"], body["total_views"], body["unique_viewers"]) == (9, 12, 8)
    assert [p["concurrent"] for p in body["timeline"]] == [7]


def test_saving_never_lowers_the_figures(stream):
    services.stream_start(stream=stream)
    now = timezone.now()
    services.stream_record_figures(stream_id=stream.id, figures=Figures(5, 10, 20, 15, {}), at=now)
    services.stream_record_figures(stream_id=stream.id, figures=Figures(2, 3, 4, 5, {}), at=now)
    stream.refresh_from_db()
    assert (stream.peak, stream.total_views, stream.unique_viewers, stream.last_concurrent) == (10, 20, 15, 2)


def test_ended_stream_keeps_its_final_figures(host, stream, api_client):
    services.stream_start(stream=stream)
    services.stream_record_figures(stream_id=stream.id, figures=Figures(4, 6, 9, 5, {}), at=timezone.now())
    client_for(host).post(f"/api/streams/{stream.id}/end/")
    services.stream_record_figures(stream_id=stream.id, figures=Figures(50, 60, 90, 50, {}), at=timezone.now())
    body = api_client.get(f"/api/streams/{stream.id}/stats/").json()
    assert (body["concurrent"], body["peak"], body["total_views"], body["unique_viewers"]) == (0, 6, 9, 5)
    assert body["status"] == "ended"
    assert ViewerSample.objects.filter(stream=stream, concurrent=50).count() == 0


def test_stats_of_a_draft_sessions_stream_are_hidden_from_the_public(organization, api_client):
    session = SessionFactory(series__organization=organization, status=Session.Status.DRAFT)
    hidden = StreamFactory(session=session)
    assert api_client.get(f"/api/streams/{hidden.id}/stats/").status_code == 404


def test_redis_outage_gives_saved_figures_marked_stale(settings, stream, api_client, dead_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{dead_port}/0"
    Stream.objects.filter(id=stream.id).update(peak=11, total_views=30, last_concurrent=3)
    response = api_client.get(f"/api/streams/{stream.id}/stats/")
    assert response.status_code == 200
    body = response.json()
    assert body["stale"] is True
    assert (body["concurrent"], body["peak"], body["total_views"]) == (3, 11, 30)


# --- external platforms -------------------------------------------------------------------------------


def test_signed_external_count_adds_to_totals_with_a_breakdown_for_hosts(
    host, stream, api_client, django_capture_on_commit_callbacks
):
    services.stream_start(stream=stream)
    with django_capture_on_commit_callbacks(execute=True):
        response = post_external(api_client, stream, {"platform": "douyin", "concurrent": 120, "at": now_iso()})
    assert response.status_code == 200, response.json()
    public = api_client.get(f"/api/streams/{stream.id}/stats/").json()
    assert public["concurrent"] == 120
    assert public["peak"] == 120
    assert "platforms" not in public
    assert client_for(host).get(f"/api/streams/{stream.id}/stats/").json()["platforms"] == {"web": 0, "douyin": 120}


def test_platform_drops_out_after_the_timeout(settings, stream, api_client, django_capture_on_commit_callbacks):
    settings.PRESENCE_EXTERNAL_TIMEOUT_SECONDS = 0.3
    with django_capture_on_commit_callbacks(execute=True):
        post_external(api_client, stream, {"platform": "bilibili", "concurrent": 40, "at": now_iso()})
    assert api_client.get(f"/api/streams/{stream.id}/stats/").json()["concurrent"] == 40
    time.sleep(0.4)
    body = api_client.get(f"/api/streams/{stream.id}/stats/").json()
    assert body["concurrent"] == 0
    assert body["peak"] == 40


@pytest.mark.parametrize("signature", [None, "", "00" * 32, "sha256=abc"])
def test_missing_or_wrong_signature_is_401(signature, stream, api_client):
    response = post_external(api_client, stream, {"platform": "douyin", "concurrent": 5, "at": now_iso()}, signature)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_signature"
    assert not stream.external_counts.exists()


def test_signature_with_another_streams_secret_is_401(stream, api_client):
    other = StreamFactory()
    payload = {"platform": "douyin", "concurrent": 5, "at": now_iso()}
    response = post_external(api_client, stream, payload, secret=other.external_secret)
    assert response.status_code == 401


def test_sha256_prefix_is_accepted(stream, api_client):
    body, good = signed(stream, {"platform": "weibo", "concurrent": 5, "at": now_iso()})
    response = api_client.post(
        f"/api/streams/{stream.id}/external-counts/", data=body, content_type="application/json",
        HTTP_X_SIGNATURE=f"sha256={good}",
    )  # fmt: skip
    assert response.status_code == 200


def test_old_timestamp_is_refused(stream, api_client):
    response = post_external(api_client, stream, {"platform": "douyin", "concurrent": 5, "at": now_iso(-3600)})
    assert response.status_code == 400
    assert response.json()["code"] == "stale_timestamp"
    assert not stream.external_counts.exists()


def test_replayed_body_is_refused(stream, api_client):
    payload = {"platform": "douyin", "concurrent": 5, "at": now_iso()}
    assert post_external(api_client, stream, payload).status_code == 200
    replay = post_external(api_client, stream, payload)
    assert replay.status_code == 409
    assert replay.json()["code"] == "replayed"
    older = post_external(api_client, stream, {**payload, "concurrent": 9, "at": now_iso(-10)})
    assert older.status_code == 409
    assert stream.external_counts.get().concurrent == 5


def test_signed_but_invalid_body_is_400(stream, api_client):
    response = post_external(api_client, stream, {"platform": "Not Valid!", "concurrent": -1, "at": "yesterday"})
    assert response.status_code == 400
    assert set(response.json()["fields"]) == {"platform", "concurrent", "at"}


def test_external_count_for_unknown_stream_is_404(api_client):
    response = api_client.post("/api/streams/999999/external-counts/", data=b"{}", content_type="application/json")
    assert response.status_code == 404


def test_new_endpoints_are_in_the_schema(api_client):
    schema = api_client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    for path in ("start", "end", "stats", "external-counts", "rotate-secret"):
        assert f"/api/streams/{{id}}/{path}/" in schema["paths"]
    assert "post" in schema["paths"]["/api/streams/"]


def test_stream_list_query_count_does_not_grow_with_streams(organization, organizer, host):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def count_queries() -> int:
        client = client_for(type(organizer).objects.get(id=organizer.id))  # nothing cached on the user
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/streams/").status_code == 200
        return len(captured)

    StreamFactory(session=SessionFactory(series__organization=organization), hosts=[host])
    few = count_queries()
    for _ in range(5):
        StreamFactory(session=SessionFactory(series__organization=organization), hosts=[host])
    assert count_queries() == few
