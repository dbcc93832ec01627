"""The draw and the offers in a real browser (issue 14, point 8): a fan enters a draw on the session
page, the organizer runs it from the roster, the fan sees the result and the verifiable order; fans
with offers see the offer and its deadline and answer it in one click. Chinese and English."""

import datetime as dt
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from events.models import Session
from registrations import services
from registrations.models import Registration
from tests.factories import SeriesFactory, SessionFactory, UserFactory, organizer_of
from tests.frontend.live_server import asgi_server, server_database_url
from tests.frontend.test_browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS, PASSWORD

pytestmark = BROWSER_TEST_MARKS

sync_api = pytest.importorskip("playwright.sync_api")


def _db(work):
    """Database work while Playwright's event loop runs in this thread: in a thread of its own."""

    def run():
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def _sign_in(page, base_url: str, path: str, user, *, link: str, username: str, password: str, button: str) -> None:
    page.goto(base_url + path)
    page.get_by_role("link", name=link).click()
    page.get_by_label(username).fill(user.username)
    page.get_by_label(password).fill(PASSWORD)
    page.get_by_role("button", name=button).click()
    sync_api.expect(page).to_have_url(base_url + path)


def test_a_fan_enters_the_draw_the_organizer_runs_it_and_the_fan_sees_the_result(tmp_path: Path, organization):
    now = timezone.now()
    session = SessionFactory(
        series=SeriesFactory(organization=organization), title="Lotus pond at night", title_zh_hans="荷塘夜拍",
        capacity=1, allocation=Session.Allocation.DRAW, max_party_size=2,
        entry_opens_at=now - dt.timedelta(hours=1), entry_closes_at=now + dt.timedelta(hours=1),
        draw_at=now + dt.timedelta(hours=1),
    )  # fmt: skip
    fan = UserFactory(username="lin", email="lin@example.com", email_verified_at=now, language="en")
    organizer = organizer_of(organization, username="boss", language="en")
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        expect = sync_api.expect
        page = chromium.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(10_000)
        path = f"/sessions/{session.id}/"
        _sign_in(page, base_url, path, fan, link="Log in to enter the draw", username="Username",
                 password="Password", button="Log in")  # fmt: skip

        info = page.locator(".draw-info")
        expect(info).to_contain_text("Seats are drawn")
        expect(info).to_contain_text("Entries:")
        expect(info).to_contain_text("The draw:")
        seed_hash = info.locator("code.hash").inner_text()
        assert re.fullmatch(r"[0-9a-f]{64}", seed_hash)

        page.get_by_role("button", name="Enter the draw").click()
        expect(page.get_by_text("You entered the draw", exact=True)).to_be_visible()
        entry = _db(lambda: Registration.objects.get(session=session, fan=fan))
        assert entry.status == "entered"
        expect(page.locator(".my-reg code")).to_have_text(entry.entry_ref)
        expect(info).to_contain_text("1 entry so far.")

        # Time passes: the entries close. The organizer runs the draw from the roster.
        _db(
            lambda: Session.objects.filter(id=session.id).update(
                entry_closes_at=timezone.now() - dt.timedelta(seconds=1)
            )
        )
        desk = chromium.new_page(viewport={"width": 1200, "height": 900})
        desk.set_default_timeout(10_000)
        desk.goto(f"{base_url}/plan/sessions/{session.id}/roster/")  # redirected to log in first
        desk.get_by_label("Username").fill(organizer.username)
        desk.get_by_label("Password").fill(PASSWORD)
        desk.get_by_role("button", name="Log in").click()
        expect(desk).to_have_url(f"{base_url}/plan/sessions/{session.id}/roster/")
        expect(desk.locator("table.roster").first).to_contain_text(entry.entry_ref)
        desk.get_by_role("button", name="Run the draw now").click()
        expect(desk.get_by_text("The draw has run: 1 confirmed, 0 on the waitlist")).to_be_visible()
        expect(desk.get_by_role("link", name="The drawn order, with its seed (verifiable)")).to_be_visible()

        page.reload()
        expect(page.locator(".my-reg")).to_contain_text("You're registered")
        page.get_by_role("link", name="The drawn order, with its seed (verifiable)").click()
        order = page.evaluate("() => JSON.parse(document.body.innerText)")
        assert order["order"][0]["entry_ref"] == entry.entry_ref and order["order"][0]["result"] == "confirmed"
        assert order["seed"] and order["algorithm"]

        # The same page in Chinese, for a visitor whose browser asks for it.
        chinese = chromium.new_context(locale="zh-CN").new_page()
        chinese.goto(base_url + path)
        expect(chinese.locator(".draw-info")).to_contain_text("名额通过抽签分配")
        expect(chinese.get_by_role("link", name="抽签顺序及其种子（可核验）")).to_be_visible()
        expect(chinese.locator(".draw-info code.hash")).to_have_text(seed_hash)
        chromium.close()


def test_offers_show_their_deadline_one_fan_accepts_in_one_click_another_declines(tmp_path: Path):
    session = SessionFactory(title="Old town rooftops", title_zh_hans="古城屋顶夜拍", capacity=2, offer_hold_minutes=90)
    seated = [services.registration_create(session=session, fan=UserFactory()) for _ in range(2)]
    mei = UserFactory(username="mei", language="en")
    jun = UserFactory(username="jun", language="zh-hans")
    next_in_line = UserFactory(username="next")
    for fan in (mei, jun, next_in_line):
        services.registration_create(session=session, fan=fan)
    for registration in seated:
        services.registration_cancel(registration=registration)
    offered = {r.fan.username: r for r in Registration.objects.filter(session=session, status="offered")}
    assert set(offered) == {"mei", "jun"}
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        expect = sync_api.expect
        path = f"/sessions/{session.id}/"

        page = chromium.new_page(viewport={"width": 1200, "height": 900})
        page.set_default_timeout(10_000)
        _sign_in(page, base_url, path, mei, link="Log in to register", username="Username", password="Password",
                 button="Log in")  # fmt: skip
        offer = page.locator("#offer")
        expect(offer).to_contain_text("A seat is offered to you")
        expect(offer).to_contain_text("Accept before")
        expect(offer).to_contain_text("or it passes to the next on the waitlist")
        page.get_by_role("button", name="Accept the seat").click()
        expect(page.locator(".my-reg")).to_contain_text("You're registered")
        assert _db(lambda: Registration.objects.get(id=offered["mei"].id).status) == "confirmed"

        zh = chromium.new_context(locale="zh-CN", viewport={"width": 1200, "height": 900}).new_page()
        zh.set_default_timeout(10_000)
        _sign_in(zh, base_url, path, jun, link="登录后报名", username="用户名", password="密码", button="登录")
        expect(zh.locator("#offer")).to_contain_text("有一个名额留给你")
        expect(zh.locator("#offer")).to_contain_text(re.compile(r"请在 .+ 之前接受，否则名额将让给候补名单上的下一位"))
        zh.get_by_role("button", name="放弃").click()
        expect(zh.locator("#offer")).to_have_count(0)
        assert _db(lambda: Registration.objects.get(id=offered["jun"].id).status) == "cancelled"
        # The declined seat passed on to the next in line, as an offer of its own.
        assert _db(lambda: Registration.objects.get(session=session, fan=next_in_line).status) == "offered"
        chromium.close()
