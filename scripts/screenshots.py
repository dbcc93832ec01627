"""Screenshots of the organizer workspace for the README (issue 12): the month board at 1366 px,
the session form showing a conflict, and the door check-in on a phone.

    .venv/bin/python scripts/screenshots.py [--out docs/screenshots]

It builds a throwaway SQLite database with the demo program, starts the real ASGI server on it,
and drives Debian's Chromium through Playwright, as the browser tests do. Nothing is mocked: the
conflict is found by the planning services and the check-in goes through the door API.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}

SETUP = """
import datetime as dt
from django.utils import timezone
from accounts.models import User
from frontend.demo import load_demo
from events.models import Session
from registrations import services

series = load_demo(today=dt.date(2026, 11, 25)).series
host = User.objects.get(username="host")
session = Session.objects.filter(series=series, hosts=host).order_by("starts_at").first()
Session.objects.filter(id=session.id).update(
    registration_opens_at=timezone.now() - dt.timedelta(days=1), priority_opens_at=None
)
session.refresh_from_db()
fan, _ = User.objects.get_or_create(username="mei", defaults={"first_name": "Mei", "last_name": "Lin"})
registration = services.registration_create(session=session, fan=fan)
for n in range(5):
    extra, _ = User.objects.get_or_create(username=f"fan-{n}")
    services.registration_create(session=session, fan=extra)
print(f"SERIES={series.id} DOOR={session.id} CODE={registration.checkin_code}")
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _manage(env: dict, *args: str) -> str:
    return subprocess.run(  # noqa: S603 - our own manage.py
        [sys.executable, str(ROOT / "manage.py"), *args], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout


def _wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("the server did not start")


def _log_in(page, base: str, username: str, password: str, next_path: str) -> None:
    page.goto(f"{base}/accounts/login/?next={next_path}")
    page.fill("main input[name=username]", username)
    page.fill("main input[name=password]", password)
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(f"{base}{next_path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    parser.add_argument("--language", default="zh-hans", choices=["zh-hans", "en"])
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from playwright.sync_api import sync_playwright

    from events.demo import DEMO_ACCOUNTS

    with tempfile.TemporaryDirectory() as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/screens.sqlite3",
            "DJANGO_SETTINGS_MODULE": "project.settings",
            "DJANGO_PASSWORD_HASHERS": "django.contrib.auth.hashers.MD5PasswordHasher",
            "THROTTLE_LOGIN": "",
            "THROTTLE_USER": "",
        }
        _manage(env, "migrate", "--noinput")
        found = dict(re.findall(r"(\w+)=(\S+)", _manage(env, "shell", "-c", SETUP)))
        series_id, door_id, code = found["SERIES"], found["DOOR"], found["CODE"]
        port = _free_port()
        server = subprocess.Popen(  # noqa: S603 - our own server
            [
                sys.executable,
                "-m",
                "uvicorn",
                "project.asgi:application",
                "--port",
                str(port),
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=env,
        )
        try:
            _wait_for(port)
            base = f"http://127.0.0.1:{port}"
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                headers = {"Accept-Language": "zh-CN" if args.language == "zh-hans" else "en"}
                locale = "zh-CN" if args.language == "zh-hans" else "en-GB"  # 24-hour time fields
                desktop = browser.new_context(
                    viewport={"width": 1366, "height": 900}, extra_http_headers=headers, locale=locale
                )
                page = desktop.new_page()
                _log_in(page, base, "organizer", DEMO_ACCOUNTS["organizer"][0], f"/plan/{series_id}/")
                page.screenshot(path=str(out / "board.png"))
                print("board.png")

                # A talk moved onto another talk's venue and time: the form explains the conflict.
                rows = page.locator(".board-row.row-published")
                moving_id = rows.nth(1).get_attribute("id").split("-")[1]
                page.goto(f"{base}/plan/sessions/{moving_id}/")
                target = page.evaluate(
                    """() => { const o = document.querySelector('[data-venue-select] option[value]:not([value=""])');
                       return {venue: o.value, city: o.parentElement.dataset.city}; }"""
                )
                page.select_option("#id_city", target["city"])
                page.select_option("#id_venue", target["venue"])
                busy = _busy_slot(base, page, target["venue"])
                page.fill("#id_date", busy["date"])
                page.fill("#id_start", busy["start"])
                page.fill("#id_end", busy["end"])
                page.locator("button[name=check]").click()
                page.locator(".conflict-box").wait_for()
                page.screenshot(path=str(out / "session-form-conflict.png"))
                print("session-form-conflict.png")

                phone = browser.new_context(**PHONE, extra_http_headers=headers, locale=locale).new_page()
                _log_in(phone, base, "host", DEMO_ACCOUNTS["host"][0], f"/door/{door_id}/")
                phone.screenshot(path=str(out / "door.png"))
                phone.fill("#door-code", code)
                phone.locator("[data-door-form] button[type=submit]").click()
                phone.locator("[data-answer]:not([hidden])").wait_for()
                phone.screenshot(path=str(out / "door-admitted.png"))
                print("door.png door-admitted.png")
                browser.close()
        finally:
            server.terminate()
            server.wait(timeout=10)
    return 0


def _busy_slot(base: str, page, venue_id: str) -> dict[str, str]:
    """Date and local time of a session already at this venue (read from the board's own page)."""
    response = page.request.get(f"{base}/api/sessions/?page_size=200")
    for session in response.json()["results"]:
        if str(session["venue"]) == venue_id and session["status"] == "published":
            starts = dt.datetime.fromisoformat(session["starts_at"]).astimezone(zoneinfo.ZoneInfo(session["timezone"]))
            return {
                "date": starts.date().isoformat(),
                "start": f"{starts:%H:%M}",
                "end": f"{starts + dt.timedelta(hours=1):%H:%M}",
            }
    raise RuntimeError("no session at that venue")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
    import django

    django.setup()
    sys.exit(main())
