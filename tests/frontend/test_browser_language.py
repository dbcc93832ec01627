"""Chinese and English in a real browser (issue 11 point 6): a browser set to zh-CN gets the pages,
the registration messages and the API's errors in Chinese; switching to English sticks across pages
and sign-in; the reader's own time is written in the page's language."""

import datetime as dt
from pathlib import Path

import pytest
from django.utils import timezone

from accounts.models import User
from tests.factories import CityFactory, SessionFactory, UserFactory, VenueFactory
from tests.frontend.live_server import asgi_server, server_database_url
from tests.frontend.test_browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS, PASSWORD

pytestmark = BROWSER_TEST_MARKS

sync_api = pytest.importorskip("playwright.sync_api")


def _luoyang_session(**kwargs):
    venue = VenueFactory(
        city=CityFactory(name="Luoyang", local_name="洛阳", latitude=34.62, longitude=112.45, timezone="Asia/Shanghai"),
        name="龙门石窟",
        name_en="Longmen Grottoes",
        timezone="Asia/Shanghai",
    )
    starts = (timezone.now() + dt.timedelta(days=10)).replace(hour=12, minute=0, second=0, microsecond=0)
    return SessionFactory(venue=venue, series__organization=venue.organization, starts_at=starts, capacity=2, **kwargs)


def test_a_chinese_browser_gets_chinese_pages_messages_and_errors(tmp_path: Path):
    fan = UserFactory(username="mei", language="")
    session = _luoyang_session(title="龙门夜拍", title_en="Longmen after dark")
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = chromium.new_context(locale="zh-CN", timezone_id="Europe/Berlin")
        page = context.new_page()
        page.set_default_timeout(10_000)
        expect = sync_api.expect

        page.goto(base_url + "/")
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        expect(page.get_by_role("heading", level=1)).to_have_text("近期场次")
        page.get_by_role("link", name="龙门夜拍").click()

        expect(page.get_by_role("heading", level=1)).to_have_text("龙门夜拍")
        expect(page.locator(".seats-big")).to_contain_text("还剩 2 个名额（共 2 个）")
        expect(page.locator(".facts")).to_contain_text("北京时间（UTC+8）")
        # The reader in Berlin sees their own time beside the venue's, written the Chinese way.
        expect(page.locator(".facts .your-time")).to_contain_text("你当地时间：")
        expect(page.locator(".facts .your-time")).to_contain_text("（Europe/Berlin）")
        expect(page.locator(".facts .your-time")).to_contain_text("月")

        page.get_by_role("link", name="登录后报名").click()
        page.get_by_label("用户名").fill(fan.username)
        page.get_by_label("密码").fill(PASSWORD)
        page.get_by_role("button", name="登录").click()
        expect(page).to_have_url(f"{base_url}/sessions/{session.id}/")

        page.get_by_text("我有优先码").click()
        page.get_by_label("优先码").fill("NOT-A-CODE")
        page.get_by_role("button", name="报名", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("这个优先码不适用于本场。")

        page.get_by_label("优先码").fill("")
        page.get_by_role("button", name="报名", exact=True).click()
        expect(page.get_by_text("报名成功").first).to_be_visible()
        expect(page.locator(".seats-big")).to_contain_text("还剩 1 个名额（共 2 个）")

        # An API error asked in Chinese comes back in Chinese, with the same code as in English.
        chinese = page.request.post(
            f"{base_url}/api/auth/token/",
            data={"username": "mei", "password": "wrong"},
            headers={"Accept-Language": "zh-hans"},
        )
        english = page.request.post(
            f"{base_url}/api/auth/token/",
            data={"username": "mei", "password": "wrong"},
            headers={"Accept-Language": "en"},
        )
        assert chinese.status == english.status == 400
        assert chinese.json()["code"] == english.json()["code"] == "invalid_credentials"
        assert chinese.json()["detail"] == "用户名或密码不对。"
        assert english.json()["detail"] == "Unknown username or wrong password."
        chromium.close()


def test_switching_to_english_sticks_across_pages_and_sign_in(tmp_path: Path):
    fan = UserFactory(username="mei", language="zh-hans")
    session = _luoyang_session(title="龙门夜拍", title_en="Longmen after dark")
    database_url = server_database_url(tmp_path)

    with asgi_server(database_url) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_context(locale="zh-CN").new_page()
        page.set_default_timeout(10_000)
        expect = sync_api.expect

        page.goto(f"{base_url}/sessions/{session.id}/")
        expect(page.get_by_role("heading", level=1)).to_have_text("龙门夜拍")
        page.get_by_role("button", name="English").click()
        expect(page).to_have_url(f"{base_url}/sessions/{session.id}/")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Longmen after dark")
        expect(page.locator(".facts")).to_contain_text("Beijing time (UTC+8)")

        page.get_by_role("link", name="Sessions", exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text("Upcoming sessions")

        page.get_by_role("link", name="Log in").click()
        page.get_by_label("Username").fill(fan.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
        expect(page.get_by_role("heading", level=1)).to_have_text("Upcoming sessions")
        page.get_by_role("link", name="My sessions").click()
        expect(page.get_by_role("heading", level=1)).to_have_text("My sessions")
        expect(page.locator("html")).to_have_attribute("lang", "en")

        page.goto(f"{base_url}/sessions/{session.id}/")
        expect(page.get_by_role("button", name="Register")).to_be_visible()
        page.get_by_role("button", name="Register").click()
        expect(page.get_by_text("You're registered").first).to_be_visible()

        # Back to Chinese from any page; the account keeps the choice.
        page.get_by_role("button", name="中文").click()
        expect(page.locator("html")).to_have_attribute("lang", "zh-Hans")
        expect(page.get_by_text("报名成功").first).to_be_visible()
        chromium.close()
    assert User.objects.get(pk=fan.pk).language == "zh-hans"
