"""The stream page plays the stream: a short HLS stream that ffmpeg makes and a local HTTP server
(another origin, as a CDN would be) serves; the page switches from scheduled to live when the host
starts the stream and to the replay when it ends; a confirmed-only stream refuses a fan without a seat."""

import datetime as dt
import functools
import http.server
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.utils import timezone

from registrations.models import Registration
from streams.models import ExternalCount, Stream
from tests.factories import RegistrationFactory, StreamFactory, UserFactory
from tests.frontend.live_server import asgi_server, server_database_url
from tests.frontend.test_browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS, PASSWORD, _screenshot

FFMPEG = shutil.which("ffmpeg")

pytestmark = BROWSER_TEST_MARKS

sync_api = pytest.importorskip("playwright.sync_api")


def make_hls(folder: Path, seconds: int = 8) -> Path:
    """A test pattern with a tone, H.264 + AAC in 1-second MPEG-TS segments, as an HLS playlist."""
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(  # noqa: S603 - fixed arguments, ffmpeg from the system
        [FFMPEG or "ffmpeg", "-hide_banner", "-loglevel", "error", "-y"]
        + ["-f", "lavfi", "-i", f"testsrc=size=320x180:rate=25:duration={seconds}"]
        + ["-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}"]
        + ["-c:v", "libx264", "-pix_fmt", "yuv420p", "-g", "25", "-c:a", "aac", "-shortest"]
        + ["-f", "hls", "-hls_time", "1", "-hls_playlist_type", "vod"]
        + ["-hls_segment_filename", str(folder / "seg%03d.ts"), str(folder / "index.m3u8")],
        check=True,
        timeout=120,
    )
    return folder / "index.m3u8"


class _CorsHandler(http.server.SimpleHTTPRequestHandler):
    """Like a CDN: any origin may fetch the playlist and segments (hls.js fetches them)."""

    extensions_map = {
        **http.server.SimpleHTTPRequestHandler.extensions_map,
        ".m3u8": "application/vnd.apple.mpegurl",
        ".ts": "video/mp2t",
    }

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        super().end_headers()

    def log_message(self, format, *args) -> None:  # noqa: A002 - the base class's name
        pass


@contextmanager
def media_server(folder: Path) -> Iterator[str]:
    handler = functools.partial(_CorsHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def _playing_seconds(page) -> float:
    return page.eval_on_selector("[data-video]", "video => video.currentTime")


# Chromium plays HLS natively today; "hls.js" makes the page believe it cannot, as Firefox and older
# Chromium do, so the vendored library plays it (over Media Source Extensions).
HIDE_NATIVE_HLS = """
const canPlayType = HTMLMediaElement.prototype.canPlayType;
HTMLMediaElement.prototype.canPlayType = function (type) {
  return /mpegurl/i.test(type) ? "" : canPlayType.call(this, type);
};
"""


@pytest.mark.skipif(FFMPEG is None, reason="needs ffmpeg (apt-get install ffmpeg)")
@pytest.mark.parametrize("playback", ["native", "hls.js"])
def test_stream_page_counts_down_then_plays_the_hls_stream_when_the_host_starts_it_and_shows_the_replay(
    tmp_path, playback
):
    make_hls(tmp_path / "hls")
    host = UserFactory(username="host")
    with media_server(tmp_path / "hls") as media:
        stream = StreamFactory(
            playback_url=f"{media}/index.m3u8",
            replay_url="https://replay.example.com/grotto",
            hosts=[host],
            session__starts_at=timezone.now() + dt.timedelta(days=2, hours=3),
            session__ends_at=timezone.now() + dt.timedelta(days=2, hours=5),
        )
        database_url = server_database_url(tmp_path)
        with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            expect = sync_api.expect
            page = chromium.new_page(locale="en-US")
            page.set_default_timeout(20_000)
            if playback == "hls.js":
                page.add_init_script(HIDE_NATIVE_HLS)
            errors: list[str] = []
            page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
            page.goto(f"{base_url}/streams/{stream.id}/")
            expect(page.locator("[data-conn]")).to_have_text("Connected")
            expect(page.locator('[data-panel="scheduled"]')).to_be_visible()
            expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"^Starts in 2 days \d\d:\d\d:\d\d$"))
            expect(page.locator('[data-panel="live"]')).to_be_hidden()

            api = playwright.request.new_context(base_url=base_url)
            token = api.post("/api/auth/token/", data={"username": "host", "password": PASSWORD}).json()["token"]
            headers = {"Authorization": f"Token {token}"}
            assert api.post(f"/api/streams/{stream.id}/start/", headers=headers).status == 200

            expect(page.locator('[data-panel="live"]')).to_be_visible()  # switched by itself
            expect(page.locator("[data-stream-status]")).to_have_text("Live")
            page.wait_for_function(
                "() => { const v = document.querySelector('[data-video]'); return v && v.currentTime > 1; }",
                timeout=30_000,
            )
            assert page.eval_on_selector("[data-video]", "video => video.videoWidth") == 320
            uses_library = page.eval_on_selector("[data-video]", "video => video.src.startsWith('blob:')")
            assert uses_library == (playback == "hls.js")  # hls.js feeds the element a MediaSource blob
            assert not [e for e in errors if "Content Security Policy" in e], errors

            assert api.post(f"/api/streams/{stream.id}/end/", headers=headers).status == 200
            expect(page.locator('[data-panel="ended"]')).to_be_visible()
            expect(page.locator("[data-replay] a")).to_have_attribute("href", "https://replay.example.com/grotto")
            assert page.eval_on_selector("[data-video]", "video => video.paused")
            chromium.close()


def test_confirmed_only_stream_refuses_a_fan_without_a_seat_and_plays_for_a_confirmed_fan(tmp_path):
    stream = StreamFactory(
        status="live", started_at=timezone.now(), audience=Stream.Audience.CONFIRMED,
        playback_url="https://live.example.com/play/grotto.m3u8",
    )  # fmt: skip
    waitlisted = UserFactory(username="waitlisted")
    RegistrationFactory(session=stream.session, fan=waitlisted, status=Registration.Status.WAITLISTED)
    confirmed = UserFactory(username="confirmed")
    RegistrationFactory(session=stream.session, fan=confirmed, status=Registration.Status.CONFIRMED)
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        expect = sync_api.expect
        for username, allowed in (("waitlisted", False), ("confirmed", True)):
            page = chromium.new_context(locale="en-US").new_page()
            page.set_default_timeout(15_000)
            page.goto(f"{base_url}/accounts/login/?next=/streams/{stream.id}/")
            page.get_by_label("Username").fill(username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            expect(page).to_have_url(f"{base_url}/streams/{stream.id}/")
            api = page.evaluate(f"() => fetch('/api/streams/{stream.id}/').then(r => r.json())")
            # The socket as the page's script would open it, with this fan's session cookie.
            close_code = page.evaluate(
                """(path) => new Promise((resolve) => {
                    const ws = new WebSocket(`ws://${location.host}${path}`);
                    ws.onmessage = () => { ws.close(1000); resolve("open"); };
                    ws.onclose = (event) => resolve(event.code);
                })""",
                f"/ws/streams/{stream.id}/",
            )
            if allowed:
                expect(page.locator('[data-panel="live"] video')).to_have_count(1)
                assert api["can_watch"] is True and api["playback_url"].endswith("grotto.m3u8")
                assert close_code == "open"
            else:
                expect(page.locator('[data-panel="denied"]')).to_contain_text(
                    "This stream is for fans with a confirmed seat."
                )
                expect(page.locator("video")).to_have_count(0)
                assert api["can_watch"] is False and api["playback_url"] is None
                assert close_code == 4403
            page.context.close()
        chromium.close()


def test_host_dashboard_on_a_phone_shows_seats_beside_the_audience_axes_and_platforms_by_metric(tmp_path):
    host = UserFactory(username="host")
    stream = StreamFactory(status="live", started_at=timezone.now(), hosts=[host])
    for status in ("confirmed", "confirmed", "waitlisted", "cancelled"):
        RegistrationFactory(session=stream.session, status=status)
    first = Registration.objects.filter(session=stream.session, status="confirmed").order_by("id").first()
    Registration.objects.filter(id=first.id).update(checked_in_at=timezone.now())
    ExternalCount.objects.create(stream=stream, platform="weibo", metric="views", concurrent=4_900_000,
                                 highest=4_900_000, at=timezone.now())  # fmt: skip
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        expect = sync_api.expect
        viewer = chromium.new_context(locale="en-US").new_page()
        viewer.goto(f"{base_url}/streams/{stream.id}/")
        phone = chromium.new_context(locale="en-US", viewport={"width": 390, "height": 844}, is_mobile=True)
        page = phone.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{base_url}/accounts/login/?next=/streams/{stream.id}/host/")
        page.get_by_label("Username").fill("host")
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.locator('[data-field="registered"]')).to_have_text("3")
        expect(page.locator('[data-field="checked_in"]')).to_have_text("1")
        expect(page.locator('[data-field="concurrent"]')).to_have_attribute("data-value", "1")
        labels = page.locator("[data-chart] .axis text")
        expect(labels.filter(has_text=re.compile(r"^\d\d:\d\d(:\d\d)?$")).first).to_be_visible()
        expect(page.locator("[data-chart] .axis-title").first).to_have_text(re.compile(r"Time \(.+\)"))
        expect(page.locator("[data-chart] .axis-title").last).to_have_text("Viewers")
        expect(page.locator("[data-chart] polyline")).to_have_attribute("points", re.compile(r"\d+(\.\d+)?,\d"))
        # Readable on a phone: labels are drawn at the chart's real size, and nothing overflows the page.
        heights = page.eval_on_selector_all(
            "[data-chart] .axis text", "ts => ts.map(t => t.getBoundingClientRect().height)"
        )
        assert min(heights) >= 10, heights
        assert page.evaluate("() => document.documentElement.scrollWidth") <= 390
        table = page.locator("[data-platforms]")
        expect(table).to_contain_text("Cumulative views")
        expect(table.locator("tr", has_text="weibo")).to_contain_text("No: not viewers now")
        expect(table.locator("tr", has_text="This site")).to_contain_text("Concurrent viewers")
        expect(page.locator('[data-field="concurrent"]')).to_have_attribute("data-value", "1")  # views not added
        _screenshot(page, "host-dashboard-phone")
        # Reconnects back off exponentially with full jitter (a deploy's 10,000 viewers spread out).
        delays = page.evaluate(
            "() => [0, 1, 2, 3, 4, 5, 6].map(n => [0, 0.5, 0.999].map(r => ApertureLive.backoffDelay(n, r)))"
        )
        assert [low for low, _mid, _high in delays] == [250] * 7
        assert [high for _low, _mid, high in delays] == [2997, 5994, 11988, 23976, 29970, 29970, 29970]
        assert all(low < mid < high for low, mid, high in delays)
        chromium.close()


def test_countdown_and_start_time_in_chinese_on_the_venues_clock(tmp_path):
    stream = StreamFactory(
        session__starts_at=timezone.now() + dt.timedelta(days=3, hours=1),
        session__ends_at=timezone.now() + dt.timedelta(days=3, hours=3),
    )
    database_url = server_database_url(tmp_path)
    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(locale="zh-CN", timezone_id="Europe/London")
        page.set_default_timeout(15_000)
        page.goto(f"{base_url}/streams/{stream.id}/")
        expect = sync_api.expect
        expect(page.locator("[data-countdown]")).to_have_text(re.compile(r"^距开始还有 3 天 \d\d:\d\d:\d\d$"))
        panel = page.locator('[data-panel="scheduled"]')
        expect(panel).to_contain_text("场地当地时间")
        expect(panel.locator("[data-starts-at]")).to_contain_text("周")  # 12月3日 周四 19:00
        expect(page.locator("[data-conn]")).to_have_text("已连接")
        chromium.close()
