"""The pages in a real browser (Debian's headless Chromium driven by Playwright) against a real
uvicorn server on the test database. Screenshots go to $APERTURE_SCREENSHOTS when it is set."""

import datetime as dt
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from django.urls import Resolver404, resolve
from django.utils import timezone

from tests.factories import CityFactory, SessionFactory, StreamFactory, UserFactory, VenueFactory
from tests.frontend.live_server import asgi_server, server_database_url

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct-horse-battery"  # UserFactory's

# Every browser test file's marks: a real server in a thread, a database it can see, chromium.
BROWSER_TEST_MARKS = [
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)"),
]
pytestmark = BROWSER_TEST_MARKS

sync_api = pytest.importorskip("playwright.sync_api")


def _route_exists(path: str) -> bool:
    try:
        resolve(path)
    except Resolver404:
        return False
    return True


def _screenshot(page, name: str) -> None:
    folder = os.environ.get("APERTURE_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _session_in(city: str, local_name: str, lat: float, lon: float, days: int, **kwargs):
    venue = VenueFactory(
        city=CityFactory(name=city, local_name=local_name, latitude=lat, longitude=lon),
        name=f"{city} Photography Hall",
    )
    starts = (timezone.now() + dt.timedelta(days=days)).replace(hour=12, minute=0, second=0, microsecond=0)
    return SessionFactory(venue=venue, series__organization=venue.organization, starts_at=starts, **kwargs)


def _number(locator) -> int:
    return int(re.sub(r"\D", "", locator.inner_text()) or "0")


@pytest.mark.skipif(
    not _route_exists("/api/sessions/1/registrations/"), reason="the registration API is not on main yet"
)
def test_fan_signs_in_registers_sees_it_in_my_sessions_and_cancels(tmp_path):
    fan = UserFactory(username="mei")
    session = _session_in(
        "Luoyang", "洛阳", 34.62, 112.45, days=10, title="Longmen Grottoes after dark 龙门夜拍", capacity=2
    )
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(10_000)
        expect = sync_api.expect

        page.goto(base_url + "/")
        page.get_by_role("link", name=session.title).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(session.title)
        expect(page.locator(".seats-big")).to_contain_text("2 of 2 seats left")

        page.get_by_role("link", name="Log in to register").click()
        page.get_by_label("Username").fill(fan.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{base_url}/sessions/{session.id}/")

        page.get_by_text("I have a priority code").click()
        page.get_by_label("Priority code").fill("NOT-A-CODE")
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_role("alert")).to_contain_text("not valid")
        expect(page.locator(".seats-big")).to_contain_text("2 of 2 seats left")

        page.get_by_label("Priority code").fill("")
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_text("You're registered", exact=False).first).to_be_visible()
        expect(page.locator(".seats-big")).to_contain_text("1 of 2 seats left")
        _screenshot(page, "session-registered")

        page.get_by_role("link", name="My sessions").first.click()
        card = page.locator(".reg", has_text=session.title)
        expect(card).to_be_visible()
        code = card.locator("code.code").inner_text()
        assert len(code.replace("-", "")) == 12  # short, grouped for reading (7K3M-9XQ2-HR4T)
        qr = card.locator("img.qr")
        qr.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=qr.element_handle())

        page.get_by_role("button", name="Show my subscription link").click()
        feed_input = page.get_by_label("Subscription URL")
        expect(feed_input).to_have_value(re.compile(r"/calendar/feed/[\w-]+\.ics$"))
        feed_url = feed_input.input_value()
        feed = page.request.get(base_url + "/calendar/feed/" + feed_url.rsplit("/calendar/feed/", 1)[1])
        assert feed.ok and feed.headers["content-type"].startswith("text/calendar")
        assert "Longmen Grottoes after dark" in feed.text()
        _screenshot(page, "my-sessions")

        page.once("dialog", lambda dialog: dialog.accept())
        card.get_by_role("button", name="Cancel registration").click()
        expect(page.get_by_text("You have no upcoming sessions.")).to_be_visible()

        page.goto(f"{base_url}/sessions/{session.id}/")
        expect(page.locator(".seats-big")).to_contain_text("2 of 2 seats left")
        expect(page.get_by_role("button", name="Register")).to_be_visible()
        chromium.close()


def test_near_me_sorts_sessions_by_distance_from_the_browsers_location(tmp_path):
    _session_in("Luoyang", "洛阳", 34.62, 112.45, days=3, title="Grotto light painting")
    _session_in("Harbin", "哈尔滨", 45.80, 126.53, days=9, title="Ice lantern night shoot", kind="night_shoot")
    _session_in("Beijing", "北京", 39.90, 116.41, days=6, title="Hutong blue hour")
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = chromium.new_context(
            geolocation={"latitude": 45.75, "longitude": 126.65},  # Harbin
            permissions=["geolocation"],
            viewport={"width": 1200, "height": 900},
        )
        page = context.new_page()
        page.set_default_timeout(10_000)
        page.goto(base_url + "/")
        titles = page.locator(".card-title").all_inner_texts()
        assert titles == ["Grotto light painting", "Hutong blue hour", "Ice lantern night shoot"]  # by date

        page.get_by_role("button", name="Near me").click()
        page.wait_for_url(re.compile(r"near=45\.75%2C126\.65"))
        titles = page.locator(".card-title").all_inner_texts()
        assert titles == ["Ice lantern night shoot", "Hutong blue hour", "Grotto light painting"]
        assert "哈尔滨" in page.locator(".card").first.inner_text()
        _screenshot(page, "home-near-me")

        page.set_viewport_size({"width": 390, "height": 844})
        _screenshot(page, "home-phone")
        chromium.close()


@pytest.mark.skipif(not _route_exists("/api/streams/1/stats/"), reason="the live audience (streams) is not on main yet")
def test_stream_page_count_rises_when_a_second_viewer_connects(tmp_path):
    host = UserFactory(username="host")
    stream = StreamFactory(status="live", started_at=timezone.now(), hosts=[host])
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        expect = sync_api.expect
        first = chromium.new_context().new_page()
        first.set_default_timeout(15_000)
        first.goto(f"{base_url}/streams/{stream.id}/")
        count = first.locator('[data-field="concurrent"]')
        expect(first.locator("[data-conn]")).to_have_text("Connected")
        expect(count).to_have_attribute("data-value", "1")

        second = chromium.new_context().new_page()
        second.goto(f"{base_url}/streams/{stream.id}/")
        expect(count).to_have_attribute("data-value", "2")
        expect(second.locator('[data-field="concurrent"]')).to_have_attribute("data-value", "2")
        assert _number(first.locator('[data-field="peak"]')) >= 2
        _screenshot(first, "stream-two-viewers")

        dashboard = chromium.new_context().new_page()
        dashboard.set_default_timeout(15_000)
        dashboard.goto(f"{base_url}/streams/{stream.id}/host/")  # redirected to log in first
        dashboard.get_by_label("Username").fill(host.username)
        dashboard.get_by_label("Password").fill(PASSWORD)
        dashboard.get_by_role("button", name="Log in").click()
        expect(dashboard).to_have_url(f"{base_url}/streams/{stream.id}/host/")
        expect(dashboard.locator("[data-conn]")).to_have_text("Connected")
        expect(dashboard.locator('[data-field="concurrent"]')).to_have_attribute("data-value", "2")
        expect(dashboard.locator('[data-field="unique_viewers"]')).to_have_attribute("data-value", "2")
        expect(dashboard.locator("[data-chart] polyline")).to_have_attribute("points", re.compile(r"\d+(\.\d+)?,\d"))
        expect(dashboard.locator("[data-platforms]")).to_contain_text("This site")
        _screenshot(dashboard, "host-dashboard")

        second.context.close()
        expect(count).to_have_attribute("data-value", "1")
        chromium.close()


@pytest.mark.skipif(not _route_exists("/api/streams/1/stats/"), reason="the live audience (streams) is not on main yet")
def test_stream_page_marks_the_count_stale_and_reconnects_after_a_server_restart(tmp_path):
    stream = StreamFactory(status="live", started_at=timezone.now())
    database_url = server_database_url(tmp_path)
    # Both servers share one presence namespace; on Redis the first one's viewers (it had no chance
    # to say goodbye) drop out when its liveness key expires, shortened here to keep the test short.
    shared = {"PRESENCE_REDIS_PREFIX": f"test-{uuid.uuid4().hex}:presence", "PRESENCE_LIVENESS_SECONDS": "2"}

    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        expect = sync_api.expect
        page = chromium.new_page()
        page.set_default_timeout(15_000)
        conn = page.locator("[data-conn]")
        count = page.locator('[data-field="concurrent"]')
        with asgi_server(database_url, shared) as base_url:
            page.goto(f"{base_url}/streams/{stream.id}/")
            expect(conn).to_have_text("Connected")
            expect(count).to_have_attribute("data-value", "1")
        port = int(base_url.rsplit(":", 1)[1])

        expect(conn).to_contain_text("Disconnected; the figures may be stale. Reconnecting")
        expect(page.locator("[data-live]")).to_have_attribute("data-state", "stale")

        with asgi_server(database_url, shared, port=port):
            # Backoff retries reach the new server. Each retry waits a random time up to a ceiling that
            # doubles with every failed attempt (30 s at most), so the wait covers the largest ceiling.
            expect(conn).to_have_text("Connected", timeout=35_000)
            expect(count).to_have_attribute("data-value", "1")
        chromium.close()


def _log_in(page, base_url: str, username: str, next_path: str) -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    sync_api.expect(page).to_have_url(base_url + next_path)


@pytest.mark.skipif(
    not _route_exists("/api/sessions/1/registrations/"), reason="the registration API is not on main yet"
)
def test_new_fan_signs_up_joins_the_waitlist_and_is_promoted_when_a_seat_frees_up(tmp_path):
    first = UserFactory(username="first")
    session = _session_in("Xi'an", "西安", 34.34, 108.94, days=5, title="City wall night shoot 城墙夜拍", capacity=1)
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        expect = sync_api.expect
        page_path = f"/sessions/{session.id}/"

        one = chromium.new_context().new_page()
        one.set_default_timeout(10_000)
        _log_in(one, base_url, first.username, page_path)
        one.get_by_role("button", name="Register").click()
        expect(one.locator(".seats-big")).to_contain_text("Full")

        two = chromium.new_context().new_page()
        two.set_default_timeout(10_000)
        two.goto(base_url + page_path)
        two.get_by_role("link", name="Create an account").click()
        two.get_by_label("Username").fill("xiaoyu")
        two.get_by_label("Email").fill("xiaoyu@example.com")
        two.get_by_label("Password").fill("night-shoot-2026")
        two.get_by_role("button", name="Sign up").click()
        expect(two).to_have_url(base_url + page_path)
        two.get_by_role("button", name="Join the waitlist").click()
        expect(two.get_by_text("You're on the waitlist, #1")).to_be_visible()

        one.once("dialog", lambda dialog: dialog.accept())
        one.get_by_role("button", name="Cancel my registration").click()
        # After the reload: the freed seat went to the waitlist's #1, so the session is full again.
        expect(one.get_by_role("button", name="Join the waitlist")).to_be_visible()
        expect(one.locator(".seats-big")).to_contain_text("Full")

        two.goto(base_url + "/sessions/mine/")
        card = two.locator(".reg", has_text=session.title)
        expect(card.get_by_text("Confirmed")).to_be_visible()
        expect(card.locator("code.code")).to_be_visible()
        chromium.close()


def test_the_session_page_keeps_its_seat_figures_current_without_a_reload(tmp_path):
    from registrations import services as registration_services

    session = _session_in("Dunhuang", "敦煌", 40.14, 94.66, days=6, title="Dunes under the stars", capacity=3)
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page()
        page.set_default_timeout(15_000)
        expect = sync_api.expect
        page.goto(f"{base_url}/sessions/{session.id}/")
        seats = page.locator(".seats-big")
        expect(seats).to_contain_text("3 of 3 seats left")
        page.evaluate("window.__sameDocument = true")

        def others_register(count: int) -> None:  # through the service the API uses (off the loop)
            def run() -> None:
                for _ in range(count):
                    registration_services.registration_get_or_create(session_id=session.id, fan=UserFactory())
                connection.close()

            with ThreadPoolExecutor(1) as pool:
                pool.submit(run).result()

        others_register(3)
        expect(seats).to_contain_text("Full")
        expect(page.get_by_role("link", name="Log in to register")).to_be_visible()
        assert page.evaluate("window.__sameDocument") is True  # updated in place, never reloaded

        others_register(1)
        expect(page.locator(".waitlist-line")).to_contain_text("Waitlist: 1 waiting")
        chromium.close()
