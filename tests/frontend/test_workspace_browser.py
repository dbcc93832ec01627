"""The workspace's journeys in a real browser (issue 12, "How it is checked"): Debian's Chromium
driven by Playwright against a real uvicorn server. Screenshots go to $APERTURE_SCREENSHOTS."""

import datetime as dt
import zoneinfo

import pytest

from accounts.models import User
from events.demo import DEMO_ACCOUNTS
from events.models import Session
from frontend.demo import load_demo
from registrations import services as registration_services
from tests.factories import OrganizationFactory, RegistrationFactory, SessionFactory, UserFactory, host_of
from tests.frontend.live_server import asgi_server, server_database_url
from tests.frontend.test_browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS, PASSWORD, _screenshot

pytestmark = BROWSER_TEST_MARKS

sync_api = pytest.importorskip("playwright.sync_api")
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}
DEMO_PASSWORDS = {name: account[0] for name, account in DEMO_ACCOUNTS.items()}


def _log_in(page, base_url: str, username: str, password: str, next_path: str) -> None:
    page.goto(f"{base_url}/accounts/login/?next={next_path}")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Log in").click()
    sync_api.expect(page).to_have_url(base_url + next_path)


def test_the_board_shows_the_demo_month_in_local_time(tmp_path):
    series = load_demo(today=dt.date(2026, 11, 25)).series
    sessions = list(Session.objects.filter(series=series).order_by("starts_at"))
    first = sessions[0]
    local = first.starts_at.astimezone(zoneinfo.ZoneInfo(first.timezone))
    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(15_000)
        _log_in(page, base_url, "organizer", DEMO_PASSWORDS["organizer"], "/")
        page.get_by_role("link", name="Plan").click()
        page.get_by_role("link", name=series.title_en).click()
        expect = sync_api.expect
        expect(page.locator(".board-row")).to_have_count(len(sessions))
        row = page.locator(f"#session-{first.id}")
        expect(row).to_contain_text(f"{local:%H:%M}")
        expect(row).to_contain_text("Beijing time (UTC+8)")
        expect(page.locator("#conflicts-title")).to_have_text("0 conflicts")
        # Readable at 1366 px: nothing wider than the window.
        assert page.evaluate("document.documentElement.scrollWidth") <= 1366
        _screenshot(page, "board")
        phone = chromium.new_context(**PHONE).new_page()
        _log_in(phone, base_url, "organizer", DEMO_PASSWORDS["organizer"], f"/plan/{series.id}/")
        assert phone.evaluate("document.documentElement.scrollWidth") <= 390
        chromium.close()


def test_a_door_scan_by_typed_code_admits_once_and_says_already_the_second_time(tmp_path):
    organization = OrganizationFactory()
    door_host = host_of(organization, username="door-host", first_name="Lei", last_name="Wang")
    session = SessionFactory(series__organization=organization, hosts=[door_host], title="Longmen after dark")
    fan = UserFactory(first_name="Mei", last_name="Lin")
    registration = registration_services.registration_create(session=session, fan=fan)
    typed = registration.checkin_code.lower()[:4] + " " + registration.checkin_code[4:]
    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_context(**PHONE).new_page()
        page.set_default_timeout(15_000)
        expect = sync_api.expect
        _log_in(page, base_url, door_host.username, PASSWORD, f"/door/{session.id}/")
        expect(page.locator("[data-checked-in]")).to_have_text("0")
        expect(page.locator("[data-confirmed]")).to_have_text("1")
        page.get_by_label("Or type the check-in code").fill(typed)
        page.get_by_role("button", name="Check in", exact=True).click()
        answer = page.locator("[data-answer]")
        expect(answer).to_be_visible()
        expect(answer).to_have_attribute("data-state", "ok")
        expect(answer).to_contain_text("Admitted")
        expect(answer).to_contain_text("Mei Lin")
        box = answer.bounding_box()
        assert box is not None and box["width"] >= 390 and box["height"] >= 800  # fills the screen
        _screenshot(page, "door-admitted")
        expect(page.locator("[data-checked-in]")).to_have_text("1")
        page.get_by_role("button", name="Next fan").click()
        expect(answer).to_be_hidden()

        page.get_by_label("Or type the check-in code").fill(registration.checkin_code)
        page.get_by_role("button", name="Check in", exact=True).click()
        expect(answer).to_have_attribute("data-state", "already")
        expect(answer).to_contain_text("Already checked in")
        expect(answer).to_contain_text("Lei Wang")
        _screenshot(page, "door-already")
        chromium.close()
    registration.refresh_from_db()
    assert registration.checked_in_by_id == door_host.id
    assert User.objects.get(id=fan.id).registrations.get().checked_in_at is not None


def test_a_conflicting_move_shows_the_conflict_in_words_and_saves_nothing(tmp_path):
    series = load_demo(today=dt.date(2026, 11, 25)).series
    talks = list(Session.objects.filter(series=series, kind="talk").select_related("venue").order_by("starts_at"))
    moving = talks[1]
    # Another talk at a venue of the same city, to be double-booked by the move.
    target = next(t for t in talks if t.venue_id != moving.venue_id and t.id != moving.id)
    shanghai = zoneinfo.ZoneInfo("Asia/Shanghai")
    local = target.starts_at.astimezone(shanghai)
    before = (moving.starts_at, moving.venue_id, moving.sequence)
    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(15_000)
        expect = sync_api.expect
        _log_in(page, base_url, "organizer", DEMO_PASSWORDS["organizer"], f"/plan/{series.id}/")
        page.locator(f"#session-{moving.id}").get_by_role("link", name="Edit or move").click()
        page.get_by_label("City", exact=False).and_(page.locator("select")).select_option(str(target.city_id))
        page.locator("[data-venue-select]").select_option(str(target.venue_id))
        expect(page.locator("[data-zone-label]").first).to_have_text("Beijing time (UTC+8)")
        page.locator("#id_date").fill(local.date().isoformat())
        page.locator("#id_start").fill(f"{local:%H:%M}")
        page.locator("#id_end").fill(f"{local + dt.timedelta(hours=1):%H:%M}")
        page.get_by_role("button", name="Check for conflicts").click()
        box = page.locator(".conflict-box")
        expect(box).to_be_visible()
        expect(box).to_contain_text("is booked by")
        expect(box).to_contain_text(f"{local:%H:%M}")
        _screenshot(page, "session-form-conflict")
        page.get_by_role("button", name="Save").click()
        expect(box).to_contain_text("Not saved")
        chromium.close()
    moving.refresh_from_db()
    assert (moving.starts_at, moving.venue_id, moving.sequence) == before


def test_a_hosts_home_links_to_the_live_dashboard(tmp_path):
    from tests.factories import StreamFactory

    organization = OrganizationFactory()
    host = host_of(organization, username="stream-host", first_name="Lei", last_name="Wang")
    session = SessionFactory(
        series__organization=organization, hosts=[host], kind=Session.Kind.LIVESTREAM, title="Grottoes live"
    )
    stream = StreamFactory(session=session, title="Grottoes live stream")
    stream.hosts.add(host)
    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_context(**PHONE).new_page()
        page.set_default_timeout(15_000)
        expect = sync_api.expect
        page.goto(f"{base_url}/accounts/login/")
        page.get_by_label("Username").fill(host.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page).to_have_url(f"{base_url}/host/")
        card = page.locator(f"#host-session-{session.id}")
        expect(card).to_contain_text("Grottoes live")
        expect(card.locator("[data-stream-status]")).to_have_text("Scheduled")
        card.get_by_role("button", name="Go live").click()
        expect(page.locator(f"#host-session-{session.id} [data-stream-status]")).to_have_text("Live")
        page.locator(f"#host-session-{session.id}").get_by_role("link", name="Live dashboard").click()
        expect(page).to_have_url(f"{base_url}/streams/{stream.id}/host/")
        chromium.close()


def test_a_cancelled_sessions_page_offers_nothing_to_do(tmp_path):
    session = SessionFactory(status=Session.Status.CANCELLED, cancel_reason="Typhoon warning", title="Harbour lights")
    fan = UserFactory(username="harbour-fan")
    RegistrationFactory(session=session, fan=fan)  # registered before the cancellation
    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(15_000)
        expect = sync_api.expect
        _log_in(page, base_url, fan.username, PASSWORD, f"/sessions/{session.id}/")
        expect(page.get_by_role("alert")).to_contain_text("This session is cancelled.")
        expect(page.get_by_role("alert")).to_contain_text("Typhoon warning")
        expect(page.get_by_text("You're registered")).to_have_count(0)
        expect(page.locator("main button, main form")).to_have_count(0)  # nothing to press
        expect(page.get_by_role("link", name="Google Calendar")).to_have_count(0)
        expect(page.locator(".seats-big")).to_have_count(0)
        page.goto(f"{base_url}/sessions/mine/")
        expect(page.locator(".cancelled-sessions")).to_contain_text("Harbour lights")
        chromium.close()


def test_an_import_with_one_bad_row_saves_nothing_and_names_the_row(tmp_path):
    series = load_demo(today=dt.date(2026, 11, 25)).series
    venue = Session.objects.filter(series=series, kind="talk").select_related("venue", "city").first().venue
    day = (series.sessions.order_by("-starts_at").first().starts_at + dt.timedelta(days=20)).date()
    plan = tmp_path / "plan.csv"
    plan.write_text(
        "kind,title,city,venue,date,start,end,capacity\n"
        f"talk,Good row,{venue.city.name},{venue.name},{day},19:00,21:00,20\n"
        f"talk,Bad row,{venue.city.name},Nowhere Hall,{day},19:00,21:00,20\n",
        encoding="utf-8",
    )
    before = Session.objects.count()
    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page(viewport={"width": 1366, "height": 900})
        page.set_default_timeout(15_000)
        expect = sync_api.expect
        _log_in(page, base_url, "organizer", DEMO_PASSWORDS["organizer"], f"/plan/{series.id}/")
        page.get_by_role("link", name="Import a plan").click()
        page.get_by_label("Plan file (.csv or .xlsx)").set_input_files(str(plan))
        page.get_by_role("button", name="Preview").click()
        expect(page.get_by_role("alert")).to_contain_text("Nothing was saved.")
        expect(page.locator("#row-3")).to_contain_text("No venue “Nowhere Hall”")
        expect(page.get_by_role("button", name="Apply the whole plan")).to_have_count(0)
        chromium.close()
    assert Session.objects.count() == before


def _qr_video(path, text: str, width: int = 640, height: int = 480) -> None:
    """A Y4M video (what Chromium's fake camera plays) of the fan's QR code, as a phone would see a
    ticket held up to it: black modules on white, a quiet zone around them."""
    from registrations.models import checkin_qr

    matrix = checkin_qr(text).matrix  # the very QR code the fan's ticket shows
    modules = len(matrix)
    scale = min(width, height) // (modules + 8)
    left, top = (width - modules * scale) // 2, (height - modules * scale) // 2
    luma = bytearray(b"\xeb" * (width * height))
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                for dy in range(scale):
                    start = (top + y * scale + dy) * width + left + x * scale
                    luma[start : start + scale] = b"\x10" * scale
    chroma = b"\x80" * (width // 2 * height // 2)
    frame = b"FRAME\n" + bytes(luma) + chroma + chroma
    with open(path, "wb") as video:
        video.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(20):
            video.write(frame)


def test_the_door_camera_reads_a_fans_qr_code_and_admits_them(tmp_path):
    """Chromium's fake camera shows the fan's QR code: the page decodes it (Chromium on Linux has no
    BarcodeDetector, so this is the vendored jsQR) and the door admits the fan."""
    organization = OrganizationFactory()
    door_host = host_of(organization, username="camera-host")
    session = SessionFactory(series__organization=organization, hosts=[door_host])
    fan = UserFactory(first_name="Hua", last_name="Zhao")
    registration = registration_services.registration_create(session=session, fan=fan)
    video = tmp_path / "ticket.y4m"
    _qr_video(video, registration.checkin_code)
    camera = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}",
    ]
    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS + camera)
        context = chromium.new_context(**PHONE)
        context.grant_permissions(["camera"], origin=base_url)
        page = context.new_page()
        page.set_default_timeout(20_000)
        expect = sync_api.expect
        _log_in(page, base_url, door_host.username, PASSWORD, f"/door/{session.id}/")
        page.get_by_role("button", name="Scan a QR code").click()
        expect(page.locator("[data-video]")).to_be_visible()
        answer = page.locator("[data-answer]")
        expect(answer).to_have_attribute("data-state", "ok", timeout=30_000)
        expect(answer).to_contain_text("Hua Zhao")
        chromium.close()
    registration.refresh_from_db()
    assert registration.checked_in_by_id == door_host.id
