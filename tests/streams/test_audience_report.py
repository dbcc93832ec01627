"""Who may watch a stream (its audience), other platforms' figures by metric, and the after-show report."""

import csv
import datetime as dt
import io

import pytest
from django.utils import timezone

from events.models import Session
from registrations.models import Registration
from streams import services
from streams.models import Stream, StreamReport, StreamWatcher, ViewerSample
from streams.presence import Figures
from tests.conftest import client_for
from tests.factories import RegistrationFactory, SessionFactory, StreamFactory, UserFactory
from tests.streams.test_apis import now_iso, post_external

pytestmark = pytest.mark.django_db


@pytest.fixture
def stream(organization, host):
    session = SessionFactory(series__organization=organization, kind=Session.Kind.LIVESTREAM)
    return StreamFactory(session=session, hosts=[host])


def _fan_with(stream: Stream, status: str | None):
    fan = UserFactory()
    if status is not None:
        RegistrationFactory(session=stream.session, fan=fan, status=status)
    return fan


@pytest.mark.parametrize(
    ("audience", "seat", "allowed"),
    [
        ("public", None, True),
        ("registered", None, False),
        ("registered", "waitlisted", True),
        ("registered", "confirmed", True),
        ("registered", "cancelled", False),
        ("confirmed", "waitlisted", False),
        ("confirmed", "cancelled", False),
        ("confirmed", "confirmed", True),
    ],
)
def test_playback_url_follows_the_streams_audience(stream, audience, seat, allowed):
    Stream.objects.filter(id=stream.id).update(audience=audience)
    body = client_for(_fan_with(stream, seat)).get(f"/api/streams/{stream.id}/").json()
    assert body["audience"] == audience
    assert body["can_watch"] is allowed
    assert body["playback_url"] == (stream.playback_url if allowed else None)
    listed = client_for(_fan_with(stream, seat)).get("/api/streams/").json()["results"]
    assert [s["playback_url"] is not None for s in listed if s["id"] == stream.id] == [True if allowed else False]


def test_hosts_and_organizers_always_get_the_playback_url(stream, host, organizer):
    Stream.objects.filter(id=stream.id).update(audience="confirmed")
    for user in (host, organizer):
        assert client_for(user).get(f"/api/streams/{stream.id}/").json()["playback_url"] == stream.playback_url
    assert client_for(None).get(f"/api/streams/{stream.id}/").json()["playback_url"] is None


def test_organizer_sets_audience_and_replay_url_and_a_bad_audience_is_a_400(stream, organizer):
    client = client_for(organizer)
    response = client.patch(
        f"/api/streams/{stream.id}/", {"audience": "registered", "replay_url": "https://replay.example.com/1"}
    )
    assert response.status_code == 200, response.json()
    assert response.json()["audience"] == "registered"
    bad = client.patch(f"/api/streams/{stream.id}/", {"audience": "friends"})
    assert bad.status_code == 400 and "audience" in bad.json()["fields"]
    stream.refresh_from_db()
    assert (stream.audience, stream.replay_url) == ("registered", "https://replay.example.com/1")


def test_stream_list_query_count_does_not_grow_with_audience_streams(organization, host):
    fan = UserFactory()

    def count_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        client = client_for(type(fan).objects.get(id=fan.id))
        with CaptureQueriesContext(connection) as captured:
            assert client.get("/api/streams/").status_code == 200
        return len(captured)

    StreamFactory(session=SessionFactory(series__organization=organization), hosts=[host], audience="registered")
    few = count_queries()
    for _ in range(4):
        StreamFactory(session=SessionFactory(series__organization=organization), hosts=[host], audience="confirmed")
    assert count_queries() == few


# --- other platforms by metric ----------------------------------------------------------------------


def test_views_and_popularity_are_kept_apart_and_never_added_to_the_concurrent_count(
    api_client, stream, host, django_capture_on_commit_callbacks
):
    services.stream_start(stream=stream)
    with django_capture_on_commit_callbacks(execute=True):
        douyin = post_external(api_client, stream, {"platform": "douyin", "concurrent": 120, "at": now_iso()})
        weibo = post_external(
            api_client, stream, {"platform": "weibo", "metric": "views", "value": 4_900_000, "at": now_iso()}
        )
        bilibili = post_external(
            api_client, stream, {"platform": "bilibili", "metric": "popularity", "value": 88_000, "at": now_iso()}
        )
    assert (douyin.status_code, weibo.status_code, bilibili.status_code) == (200, 200, 200), weibo.json()
    assert weibo.json()["metric"] == "views"
    stats = client_for(host).get(f"/api/streams/{stream.id}/stats/").json()
    assert stats["concurrent"] == 120
    assert stats["platforms"] == {"web": 0, "douyin": 120}
    report = client_for(host).get(f"/api/streams/{stream.id}/report/").json()
    by_platform = {(p["platform"], p["metric"]): p["value"] for p in report["platforms"]}
    assert by_platform[("weibo", "views")] == 4_900_000
    assert by_platform[("bilibili", "popularity")] == 88_000
    assert by_platform[("douyin", "concurrent")] == 120
    bad = post_external(api_client, stream, {"platform": "weibo", "metric": "likes", "value": 1, "at": now_iso()})
    assert bad.status_code == 400


# --- the report ---------------------------------------------------------------------------------------


def _sample(stream: Stream, seconds: int, concurrent: int) -> None:
    at = stream.started_at + dt.timedelta(seconds=seconds)
    services.stream_record_figures(
        stream_id=stream.id, figures=Figures(concurrent, concurrent, 10, 8, {"web": concurrent}), at=at
    )


def test_report_is_computed_from_the_show_stored_when_it_ends_and_final(stream, host, organizer):
    registered = [_fan_with(stream, "confirmed"), _fan_with(stream, "waitlisted"), _fan_with(stream, "confirmed")]
    _fan_with(stream, "cancelled")
    services.stream_start(stream=stream)
    Stream.objects.filter(id=stream.id).update(started_at=timezone.now() - dt.timedelta(minutes=10))
    stream.refresh_from_db()
    for seconds, concurrent in [(0, 2), (60, 6), (120, 4), (180, 0)]:
        _sample(stream, seconds, concurrent)
    services.stream_watchers_add(stream_id=stream.id, user_ids={registered[0].id, registered[1].id, host.id})
    live = client_for(host).get(f"/api/streams/{stream.id}/report/").json()
    assert live["final"] is False

    services.stream_end(stream=stream)
    report = client_for(organizer).get(f"/api/streams/{stream.id}/report/").json()
    assert report["final"] is True
    assert report["peak"] == 6
    assert dt.datetime.fromisoformat(report["peak_at"]) == stream.started_at + dt.timedelta(seconds=60)
    samples = list(ViewerSample.objects.filter(stream=stream).values_list("concurrent", flat=True))
    assert samples == [2, 6, 4, 0, 0]  # the last one saved by the end
    assert (report["average_concurrent"], report["median_concurrent"]) == (2.4, 2.0)
    assert report["total_views"] == 10 and report["unique_viewers"] == 8
    # viewer-seconds 60*(2+6)/2 + 60*(6+4)/2 + 60*(4+0)/2 = 660 over 10 views
    assert report["average_watch_seconds"] == pytest.approx(66.0, abs=0.5)
    assert (report["registered_fans"], report["registered_fans_watched"]) == (3, 2)
    assert report["registered_watched"] == pytest.approx(2 / 3, abs=0.001)
    assert [p["concurrent"] for p in report["curve"]][:4] == [2, 6, 4, 0]

    # Final: later samples, watchers or counts change nothing, and the stored row is what is served.
    _sample(stream, 240, 50)
    StreamWatcher.objects.create(stream=stream, user=registered[2])
    again = client_for(host).get(f"/api/streams/{stream.id}/report/").json()
    assert again == report
    assert StreamReport.objects.get(stream=stream).figures["peak"] == 6


def test_report_is_for_hosts_and_organizers_only_and_exports_csv(stream, host, fan):
    services.stream_start(stream=stream)
    services.stream_end(stream=stream)
    assert client_for(fan).get(f"/api/streams/{stream.id}/report/").status_code == 403
    assert client_for(None).get(f"/api/streams/{stream.id}/report/").status_code in (401, 403)
    response = client_for(host).get(f"/api/streams/{stream.id}/report/?format=csv")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows[0] == ["section", "at", "platform", "metric", "value"]
    summary = {row[3]: row[4] for row in rows if row[0] == "summary"}
    assert summary["final"] == "True" and summary["peak"] == "0"
    assert ["platform", "", "web", "concurrent", "0"] in rows


def test_ended_stream_figures_survive_a_restart(stream, host):
    services.stream_start(stream=stream)
    Stream.objects.filter(id=stream.id).update(started_at=timezone.now() - dt.timedelta(minutes=1))
    stream.refresh_from_db()
    _sample(stream, 10, 7)
    services.stream_end(stream=stream)
    from streams.presence import reset_backend

    reset_backend()  # a restart: the live store is empty, the report is in the database
    report = client_for(host).get(f"/api/streams/{stream.id}/report/").json()
    assert report["final"] is True and report["peak"] == 7


def test_hosts_stats_put_registered_and_checked_in_beside_the_audience(stream, host, fan):
    _fan_with(stream, "confirmed")
    _fan_with(stream, "waitlisted")
    _fan_with(stream, "cancelled")
    Registration.objects.filter(session=stream.session, status="confirmed").update(checked_in_at=timezone.now())
    stats = client_for(host).get(f"/api/streams/{stream.id}/stats/").json()
    assert (stats["registered"], stats["checked_in"], stats["external"]) == (2, 1, [])
    assert "registered" not in client_for(fan).get(f"/api/streams/{stream.id}/stats/").json()


def test_a_sample_whose_count_runs_ahead_of_the_settled_peak_is_saved(stream):
    """With several workers the settled peak may trail the summed count by a report: the sample is
    still saved, and the stored last count never exceeds the peak (a database constraint)."""
    services.stream_start(stream=stream)
    services.stream_record_figures(stream_id=stream.id, figures=Figures(12, 9, 12, 12, {"web": 12}), at=timezone.now())
    stream.refresh_from_db()
    assert (stream.peak, stream.last_concurrent) == (9, 9)
    assert list(ViewerSample.objects.filter(stream=stream).values_list("concurrent", flat=True)) == [12]
