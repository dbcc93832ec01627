"""The bell with the unread count on every page, the notices page and the unsubscribe page, in both
languages; the bell's journey in a real browser (Chromium driven by Playwright, a real uvicorn)."""

import pytest

from notices.models import Notice
from notices.services import Outgoing, notices_queue
from tests.factories import UserFactory
from tests.frontend.live_server import asgi_server, server_database_url
from tests.frontend.test_browser import CHROMIUM, CHROMIUM_ARGS, PASSWORD


def queue(fan, count):
    return notices_queue(
        kind=Notice.Kind.MESSAGE,
        outgoing=[Outgoing(recipient=fan, subject=f"Tripods {n}", body="Bring one.") for n in range(count)],
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("language", "bell", "unread"), [("en", "Notices", "2 unread notices"), ("zh-hans", "通知", "2 条未读通知")]
)
def test_every_page_shows_the_bell_with_the_unread_count_in_the_fans_language(client, language, bell, unread):
    fan = UserFactory(language=language)
    queue(fan, 2)
    client.force_login(fan)
    page = client.get("/").content.decode()
    assert f'<span aria-hidden="true">🔔</span> {bell}' in page
    assert f'aria-label="{unread}">2</span>' in page
    listing = client.get("/notices/").content.decode()
    assert "Tripods 0" in listing and "Tripods 1" in listing
    client.post("/notices/read/")
    assert "unread-count" not in client.get("/").content.decode()


@pytest.mark.django_db
def test_the_bell_is_not_shown_to_visitors_and_the_notices_page_needs_a_login(client):
    assert "unread-count" not in client.get("/").content.decode()
    assert client.get("/notices/").status_code == 302


@pytest.mark.browser
@pytest.mark.server
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(not CHROMIUM.exists(), reason="needs /usr/bin/chromium (apt-get install chromium)")
def test_a_fan_sees_the_bell_count_reads_the_notices_and_the_count_goes(tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api")
    fan = UserFactory(username="bell-fan", language="zh-hans")
    queue(fan, 3)
    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page()
        page.set_default_timeout(15_000)
        expect = sync_api.expect
        page.goto(f"{base_url}/accounts/login/?next=/")
        page.locator("input[name=username]").fill(fan.username)
        page.locator("input[name=password]").fill(PASSWORD)
        page.locator("form button[type=submit]").last.click()
        bell = page.locator("a.bell")
        expect(bell).to_contain_text("通知")
        expect(bell.locator(".unread-count")).to_have_text("3")
        bell.click()
        expect(page.locator(".notice-item.unread")).to_have_count(3)
        page.get_by_role("button", name="全部标为已读").click()
        expect(page.locator(".notice-item.unread")).to_have_count(0)
        expect(page.locator("a.bell .unread-count")).to_have_count(0)
        chromium.close()
