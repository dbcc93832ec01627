"""Every page keeps the Content Security Policy (project.csp) in a real browser: Chromium reports
any inline script or style, foreign resource or connection the policy refuses on its console."""

import pytest
from django.utils import timezone

from events.models import Session
from tests.factories import RegistrationFactory, SessionFactory, StreamFactory, UserFactory, host_of, organizer_of
from tests.frontend.live_server import asgi_server, server_database_url
from tests.frontend.test_browser import BROWSER_TEST_MARKS, CHROMIUM, CHROMIUM_ARGS, PASSWORD

pytestmark = BROWSER_TEST_MARKS

sync_api = pytest.importorskip("playwright.sync_api")


def test_the_pages_keep_the_content_security_policy(tmp_path):
    session = SessionFactory(kind=Session.Kind.LIVESTREAM)
    stream = StreamFactory(session=session, status="live", started_at=timezone.now())
    host = host_of(session.series.organization, username="host-csp")
    stream.hosts.add(host)
    fan = UserFactory(username="fan-csp")
    RegistrationFactory(session=session, fan=fan)
    anonymous_pages = ["/", f"/sessions/{session.id}/", f"/streams/{stream.id}/", "/accounts/login/"]
    anonymous_pages += ["/accounts/signup/", "/admin/login/"]
    fan_pages = ["/sessions/mine/", f"/sessions/{session.id}/"]
    host_pages = [f"/streams/{stream.id}/host/", "/host/", f"/door/{session.id}/", f"/streams/{stream.id}/"]
    session.hosts.add(host)
    organizer = organizer_of(session.series.organization, username="organizer-csp")
    organizer_pages = ["/plan/", f"/plan/{session.series_id}/", f"/plan/{session.series_id}/sessions/new/"]
    organizer_pages += [f"/plan/sessions/{session.id}/", f"/plan/sessions/{session.id}/cancel/"]
    organizer_pages += [f"/plan/{session.series_id}/figures/", f"/plan/sessions/{session.id}/roster/"]

    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        violations: list[str] = []
        policies: set[str] = set()

        def visit(page, path: str) -> None:
            response = page.goto(base_url + path)
            assert response is not None and response.status == 200, path
            policies.add(response.headers.get("content-security-policy", ""))
            page.wait_for_load_state("networkidle")

        def new_page():
            page = chromium.new_page()
            page.set_default_timeout(15_000)
            page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
            return page

        page = new_page()
        for path in anonymous_pages:
            visit(page, path)
        live = page.locator("[data-conn]")
        page.goto(f"{base_url}/streams/{stream.id}/")
        sync_api.expect(live).to_have_text("Connected")  # the websocket got through connect-src

        for user, pages in ((fan, fan_pages), (organizer, organizer_pages), (host, host_pages)):
            page = new_page()
            page.goto(f"{base_url}/accounts/login/?next={pages[0]}")
            page.get_by_label("Username").fill(user.username)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Log in").click()
            sync_api.expect(page).to_have_url(base_url + pages[0])
            for path in pages:
                visit(page, path)
        sync_api.expect(page.locator("[data-conn]")).to_have_text("Connected")
        chromium.close()

    assert violations == []
    # One policy for the site; the stream page adds its player's origin (HLS fetches and media) only.
    assert len(policies) == 2
    site = min(policies, key=len)
    player = max(policies, key=len)
    assert "https://live.example.com" in player and "https://live.example.com" not in site
    assert "media-src 'self' blob: https://live.example.com" in player
    for policy in policies:
        assert "script-src 'self';" in policy and "style-src 'self';" in policy and "'unsafe-inline'" not in policy


def test_a_policy_violation_would_be_seen(tmp_path):
    """The check above can fail: an inline script on a page is refused and reported."""
    with asgi_server(server_database_url(tmp_path)) as base_url, sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = chromium.new_page()
        messages: list[str] = []
        page.on("console", lambda m: messages.append(m.text))
        page.goto(base_url + "/accounts/login/")
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = '1'; document.body.append(s); }"
        )
        page.wait_for_timeout(300)
        chromium.close()
    assert any("Content Security Policy" in m for m in messages), messages
