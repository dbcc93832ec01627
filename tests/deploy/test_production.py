"""``make prod`` end to end: the whole topology (nginx, gunicorn, two uvicorn workers, job workers,
supervisord) started by deploy/prod.py on free ports, used only through nginx's front door, then
stopped with SIGTERM, leaving no process behind.

Needs PostgreSQL, Redis and Debian's nginx (CI installs it); skipped otherwise.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import sys
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from zoneinfo import ZoneInfo

import httpx
import pytest
from django.conf import settings
from django.db import connection
from rest_framework.authtoken.models import Token

from accounts.models import User
from deploy.topology import Topology, descendants_of
from events.models import Session
from registrations.models import Registration
from streams import services as stream_services
from tests.deploy.production import Production, nginx_installed, port_answers
from tests.deploy.viewers import close_viewers, connected_by_port, open_viewers, wait_until
from tests.factories import SessionFactory, StreamFactory, UserFactory
from tests.frontend.live_server import server_database_url
from tests.smtp_sink import SmtpSink

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.server, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def mail_sink():
    with SmtpSink() as sink:
        yield sink


@pytest.fixture
def production(tmp_path, mail_sink):
    if connection.vendor != "postgresql" or not settings.REDIS_URL:
        pytest.skip("the production topology needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL)")
    if not nginx_installed():
        pytest.skip("needs Debian's nginx (apt-get install nginx; .ci/run installs it)")
    # The job workers send mail to a real SMTP server on localhost.
    topology = Production(database_url=server_database_url(tmp_path), env=mail_sink.environment())
    yield topology
    left = topology.stop()
    topology.kill_leftovers(left)
    print("".join(topology.output), topology.logs())  # shown when the test failed
    topology.remove_files()
    assert not left, f"processes left behind after SIGTERM: {sorted(left)}"


def fans_with_tokens(count: int) -> list[tuple[int, str]]:
    fans = [UserFactory() for _ in range(count)]
    return [(fan.id, Token.objects.create(user=fan).key) for fan in fans]


def register_all(base_url: str, session_id: int, tokens: list[str], *, concurrency: int) -> list[int]:
    """Every fan presses "register" at once (one connection each, like separate phones)."""

    def press(token: str) -> int:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            response = client.post(
                f"/api/sessions/{session_id}/registrations/", json={}, headers={"Authorization": f"Token {token}"}
            )
            return response.status_code

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        return list(pool.map(press, tokens))


def csrf_token(html: str) -> str:
    return re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html).group(1)


def test_make_prod_serves_the_product_through_nginx_and_stops_cleanly(
    production, organization, organizer, request, mail_sink
):
    session = SessionFactory(series__organization=organization, capacity=20)
    stream = StreamFactory(
        session=SessionFactory(series=session.series, kind=Session.Kind.LIVESTREAM), organization=organization
    )
    stream_services.stream_start(stream=stream)
    fans = fans_with_tokens(100)
    organizer_token = Token.objects.create(user=organizer).key

    production.start()
    web = httpx.Client(base_url=production.url, timeout=30)
    browser = httpx.Client(base_url=production.url, timeout=30)
    request.addfinalizer(web.close)
    request.addfinalizer(browser.close)

    # Pages through gunicorn, static files from nginx itself.
    home = web.get("/")
    assert home.status_code == 200 and home.headers["server"] == "nginx"
    script = web.get("/static/frontend/live.js")
    assert script.status_code == 200 and "LiveFigures" in script.text
    assert "/static/" not in (production.log_dir / "gunicorn.log").read_text()

    # Sign up and log in: the API (token), and the page (session cookie, CSRF with the Origin a
    # browser sends: nginx passes the Host with its port, so Django sees the same origin).
    signup = web.post(
        "/api/auth/signup/", json={"username": "e2e-fan", "email": "e2e@example.com", "password": "s3cret-Night-Owl"}
    )
    assert signup.status_code == 201, signup.text
    token = web.post("/api/auth/token/", json={"username": "e2e-fan", "password": "s3cret-Night-Owl"}).json()["token"]
    me = web.get("/api/me/", headers={"Authorization": f"Token {token}"})
    assert me.status_code == 200 and me.json()["username"] == "e2e-fan"
    form = browser.get("/accounts/login/")
    login = browser.post(
        "/accounts/login/",
        data={"username": "e2e-fan", "password": "s3cret-Night-Owl", "csrfmiddlewaretoken": csrf_token(form.text)},
        headers={"Origin": production.url, "Referer": f"{production.url}/accounts/login/"},
    )
    assert login.status_code == 302, login.text[:500]
    assert browser.get("/sessions/mine/").status_code == 200

    # The microcache: one copy a second of a visitor's session page serves every visitor; a
    # signed-in fan's page always comes from gunicorn, with their own name on it.
    page = f"/sessions/{session.id}/"
    first, second = web.get(page), web.get(page)
    assert first.headers["x-cache"] in {"MISS", "EXPIRED", "HIT"} and second.headers["x-cache"] == "HIT"
    assert second.text == first.text and "e2e-fan" not in second.text
    fan_page = browser.get(page)
    assert fan_page.headers["x-cache"] == "BYPASS" and "e2e-fan" in fan_page.text

    # 100 fans race for 20 seats through nginx; every gunicorn worker serves them (nginx opens a
    # connection per request, so no worker keeps the load); no oversell.
    statuses = register_all(production.url, session.id, [token for _, token in fans], concurrency=100)
    assert Counter(statuses) == {201: 100}
    session.refresh_from_db()
    rows = Counter(Registration.objects.filter(session=session).values_list("status", flat=True))
    assert rows == {Registration.Status.CONFIRMED: 20, Registration.Status.WAITLISTED: 80}
    assert session.confirmed_count == 20
    served_by = production.gunicorn_access_pids(f"POST /api/sessions/{session.id}/registrations/")
    assert len(served_by) == Topology.from_env({}).gunicorn_workers, served_by

    # The session moves (organizer, through nginx).
    new_start = session.starts_at + dt.timedelta(days=1)
    moved = web.patch(
        f"/api/sessions/{session.id}/",
        json={"starts_at": new_start.isoformat(), "ends_at": (new_start + dt.timedelta(hours=2)).isoformat()},
        headers={"Authorization": f"Token {organizer_token}"},
    )
    assert moved.status_code == 200, moved.text

    # The job worker delivers the move's notice to each of the 100 registered fans, once.
    emails = {fan.email for fan in User.objects.filter(id__in=[fan_id for fan_id, _ in fans])}
    deadline = time.monotonic() + 120
    while not emails <= set(mail_sink.count_by_recipient()):
        assert time.monotonic() < deadline, f"{len(emails - set(mail_sink.count_by_recipient()))} notices missing"
        time.sleep(0.2)
    time.sleep(1)  # a duplicate would come right behind
    received = mail_sink.count_by_recipient()
    assert {address: received[address] for address in emails} == dict.fromkeys(emails, 1)

    # The series' calendar feed shows the move, and an unchanged feed is a 304.
    feed = web.get(f"/api/series/{session.series_id}/calendar.ics")
    assert feed.status_code == 200
    local_start = new_start.astimezone(ZoneInfo(session.timezone)).strftime("%Y%m%dT%H%M%S")
    assert f"DTSTART;TZID={session.timezone}:{local_start}" in feed.text.replace("\r\n ", "")
    again = web.get(f"/api/series/{session.series_id}/calendar.ics", headers={"If-None-Match": feed.headers["etag"]})
    assert again.status_code == 304

    # 200 viewers through nginx, spread over both ASGI workers; every one sees 200.
    async def audience() -> dict[int, int]:
        viewers = await open_viewers(f"{production.ws_url}/ws/streams/{stream.id}/", 200)
        try:
            await wait_until(lambda: all(v.concurrent == 200 for v in viewers), timeout=30)
            return connected_by_port(production.asgi_ports)
        finally:
            await close_viewers(viewers)

    per_worker = asyncio.run(audience())
    assert sum(per_worker.values()) == 200 and all(count > 0 for count in per_worker.values()), per_worker

    # SIGTERM (what Ctrl-C does): everything stops, nothing is left, no port answers.
    left = production.stop()
    assert not left, f"left behind: {sorted(left)}"
    assert production.process.returncode == 0, "".join(production.output)
    assert not any(port_answers(port) for port in [production.port, production.gunicorn_port, *production.asgi_ports])


def register_with_retries(base_url: str, session_id: int, token: str) -> tuple[int, list[str]]:
    """One fan's registration as an app would send it: a refused connection or a 502/503/504 is
    tried again after a short pause (the fan presses again). Returns the final status and every
    failed attempt's reason."""
    failures: list[str] = []
    with httpx.Client(base_url=base_url, timeout=60) as client:
        for attempt in range(10):
            try:
                response = client.post(
                    f"/api/sessions/{session_id}/registrations/", json={}, headers={"Authorization": f"Token {token}"}
                )
            except httpx.TransportError as error:
                failures.append(type(error).__name__)
            else:
                if response.status_code not in (502, 503, 504):
                    return response.status_code, failures
                failures.append(str(response.status_code))
            time.sleep(0.2 * (attempt + 1))
    return 0, failures


def test_rolling_restart_loses_no_registration_and_viewers_come_back(production, organization):
    """deploy/restart.py (make prod-restart) during a registration burst, with 200 viewers
    connected: every registration answered 201 is in the database once, no seat is oversold,
    every worker was replaced, and the viewers reconnect by themselves and see the right total."""
    sessions = [SessionFactory(series__organization=organization, capacity=25) for _ in range(4)]
    stream = StreamFactory(
        session=SessionFactory(series=sessions[0].series, kind=Session.Kind.LIVESTREAM), organization=organization
    )
    stream_services.stream_start(stream=stream)
    fans = fans_with_tokens(320)
    production.start()
    old_asgi = {production.pid_of(f"asgi:asgi_{n}") for n in (1, 2)}
    old_gunicorn = descendants_of(production.pid_of("gunicorn"))

    async def scenario() -> tuple[list, str, float, list]:
        viewers = await open_viewers(f"{production.ws_url}/ws/streams/{stream.id}/", 200)
        try:
            await wait_until(lambda: all(v.concurrent == 200 for v in viewers), timeout=30)
            restart = await asyncio.create_subprocess_exec(
                sys.executable,
                str(settings.BASE_DIR / "deploy" / "restart.py"),
                "--skip-prepare",
                "--pause",
                "2",
                env=production.env,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
            )
            loop = asyncio.get_running_loop()
            pool = ThreadPoolExecutor(max_workers=24)
            burst = []
            # The burst: 320 fans over ~16 s, while the restart runs.
            for index, (fan_id, token) in enumerate(fans):
                session_id = sessions[index % len(sessions)].id
                future = loop.run_in_executor(pool, register_with_retries, production.url, session_id, token)
                burst.append((fan_id, session_id, future))
                await asyncio.sleep(0.05)
            output, _ = await asyncio.wait_for(restart.communicate(), timeout=180)
            results = [(fan_id, session_id, await future) for fan_id, session_id, future in burst]
            pool.shutdown()
            assert restart.returncode == 0, output.decode()
            # Viewers come back by themselves; the total is right again within a few seconds.
            settled = await wait_until(
                lambda: all(v.connected and v.concurrent == 200 for v in viewers), timeout=30, interval=0.2
            )
            return results, output.decode(), settled, [v.drops for v in viewers]
        finally:
            await close_viewers(viewers)

    results, restart_log, settled, drops = asyncio.run(scenario())
    production.remember_processes()

    # Every worker was replaced.
    assert not old_asgi & {production.pid_of(f"asgi:asgi_{n}") for n in (1, 2)}, restart_log
    assert not old_gunicorn & descendants_of(production.pid_of("gunicorn")), restart_log
    # The viewers were really dropped (each ASGI worker once) and came back by themselves.
    assert all(count >= 1 for count in drops), Counter(drops)
    assert settled < 15, settled

    # No accepted registration lost: each 201 is one row of that fan; no seat oversold.
    final = Counter(status for _, _, (status, _) in results)
    assert final == {201: len(fans)}, (final, [f for _, _, (_, f) in results if f][:10])
    rows = {
        (fan_id, session_id)
        for fan_id, session_id in Registration.objects.filter(session__in=sessions).values_list("fan_id", "session_id")
    }
    assert rows == {(fan_id, session_id) for fan_id, session_id, _ in results}
    for session in sessions:
        session.refresh_from_db()
        statuses = Counter(Registration.objects.filter(session=session).values_list("status", flat=True))
        assert statuses == {Registration.Status.CONFIRMED: 25, Registration.Status.WAITLISTED: 55}
        assert session.confirmed_count == 25
    # How many requests had to be sent again (reported, not hidden): none expected.
    retried = [failures for _, _, (_, failures) in results if failures]
    assert not retried, retried[:10]
