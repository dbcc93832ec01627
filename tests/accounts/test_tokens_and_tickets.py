"""Revoking API tokens, and single-use websocket tickets (API.md, "Live streams")."""

import datetime as dt
import threading

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing.websocket import WebsocketCommunicator
from django.db import connection
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from accounts import services
from accounts.models import WebsocketTicket
from events.models import Session
from project.ws_auth import TokenOrSessionAuthMiddleware
from streams import hub
from streams.routing import websocket_urlpatterns
from tests.conftest import token_client
from tests.factories import SessionFactory, StreamFactory, UserFactory, host_of

pytestmark = pytest.mark.django_db


def test_delete_token_revokes_the_callers_token_at_once(fan):
    client = token_client(fan)
    assert client.get("/api/me/").status_code == 200
    assert client.delete("/api/auth/token/").status_code == 204
    assert not Token.objects.filter(user=fan).exists()
    assert client.get("/api/me/").status_code == 401


def test_a_new_sign_in_after_revocation_gets_a_different_token():
    user = UserFactory(username="lin", password="night-owl-2026")
    first = APIClient().post("/api/auth/token/", {"username": "lin", "password": "night-owl-2026"}).json()["token"]
    token_client(user).delete("/api/auth/token/")
    second = APIClient().post("/api/auth/token/", {"username": "lin", "password": "night-owl-2026"}).json()["token"]
    assert second != first


def test_delete_token_needs_a_signed_in_caller():
    assert APIClient().delete("/api/auth/token/").status_code == 401


def test_a_session_signed_in_browser_may_revoke_too(fan):
    client = APIClient(enforce_csrf_checks=False)
    client.force_login(fan)
    Token.objects.create(user=fan)
    assert client.delete("/api/auth/token/").status_code == 204
    assert not Token.objects.filter(user=fan).exists()


def test_the_schema_documents_tickets_and_revocation():
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    assert "delete" in schema["paths"]["/api/auth/token/"]
    created = schema["paths"]["/api/ws-ticket/"]["post"]["responses"]["201"]["content"]["application/json"]
    component = created["schema"]["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][component]["properties"]["ticket"]["type"] == "string"


def test_ws_ticket_is_issued_to_signed_in_callers_only(fan):
    assert APIClient().post("/api/ws-ticket/").status_code == 401
    response = token_client(fan).post("/api/ws-ticket/")
    assert response.status_code == 201
    ticket = response.json()["ticket"]
    assert len(ticket) >= 32
    stored = WebsocketTicket.objects.get(user=fan)
    assert stored.digest != ticket  # only a digest is kept
    assert dt.timedelta(seconds=55) < stored.expires_at - timezone.now() <= dt.timedelta(seconds=60)


def test_a_ticket_is_redeemed_once_only(fan):
    ticket = services.websocket_ticket_issue(user=fan)
    assert services.websocket_ticket_redeem(ticket=ticket) == fan
    assert services.websocket_ticket_redeem(ticket=ticket) is None


def test_an_expired_ticket_is_refused_and_swept_by_the_next_issue(fan):
    ticket = services.websocket_ticket_issue(user=fan)
    WebsocketTicket.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert services.websocket_ticket_redeem(ticket=ticket) is None
    services.websocket_ticket_issue(user=fan)
    assert WebsocketTicket.objects.count() == 1


def test_garbage_tickets_are_refused(fan):
    for bad in ("", "x", "y" * 129, "not-a-ticket-but-long-enough-to-look-up"):
        assert services.websocket_ticket_redeem(ticket=bad) is None


def test_revoking_the_token_also_voids_outstanding_tickets(fan):
    ticket = services.websocket_ticket_issue(user=fan)
    services.token_revoke(user=fan)
    assert services.websocket_ticket_redeem(ticket=ticket) is None


def test_a_ticket_of_a_deactivated_user_lets_nobody_in(fan):
    ticket = services.websocket_ticket_issue(user=fan)
    fan.is_active = False
    fan.save(update_fields=["is_active"])
    assert services.websocket_ticket_redeem(ticket=ticket) is None


@pytest.mark.django_db(transaction=True)
def test_two_sockets_racing_with_one_ticket_let_one_user_in():
    if connection.vendor == "sqlite":
        pytest.skip("the race needs concurrent connections (PostgreSQL)")
    fan = UserFactory()
    for _ in range(10):
        ticket = services.websocket_ticket_issue(user=fan)
        barrier = threading.Barrier(4)
        results: list = []

        def redeem(ticket=ticket, barrier=barrier, results=results) -> None:
            from django.db import connection as own

            try:
                barrier.wait()
                results.append(services.websocket_ticket_redeem(ticket=ticket))
            finally:
                own.close()

        threads = [threading.Thread(target=redeem) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sum(1 for user in results if user is not None) == 1


# --- through the websocket middleware ------------------------------------------------------


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    import channels.consumer
    import channels.db

    async def _noop_async() -> None:
        return None

    monkeypatch.setattr(channels.db, "close_old_connections", lambda: None)
    monkeypatch.setattr(channels.consumer, "aclose_old_connections", _noop_async)


def _close_code_of(url: str) -> int | None:
    """None when the host channel let the socket in (a figures message came), else its close code."""

    async def scenario():
        communicator = WebsocketCommunicator(TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns)), url)
        try:
            connected, _ = await communicator.connect(timeout=10)
            assert connected
            output = await communicator.receive_output(timeout=10)
            return output.get("code") if output["type"] == "websocket.close" else None
        finally:
            await communicator.disconnect()
            await hub.get_hub().stop()

    return async_to_sync(scenario)()


def test_the_host_channel_takes_a_ticket_once(organization, settings):
    settings.PRESENCE_TICK_SECONDS = 0.05
    host = host_of(organization)
    stream = StreamFactory(session=SessionFactory(series__organization=organization, kind=Session.Kind.LIVESTREAM))
    stream.hosts.add(host)
    ticket = services.websocket_ticket_issue(user=host)
    url = f"/ws/streams/{stream.id}/host/?ticket={ticket}"
    assert _close_code_of(url) is None
    assert _close_code_of(url) == 4403  # used up: anonymous now


def test_a_revoked_token_no_longer_opens_the_host_channel(organization, settings):
    settings.PRESENCE_TICK_SECONDS = 0.05
    host = host_of(organization)
    stream = StreamFactory(session=SessionFactory(series__organization=organization, kind=Session.Kind.LIVESTREAM))
    stream.hosts.add(host)
    key = Token.objects.create(user=host).key
    assert _close_code_of(f"/ws/streams/{stream.id}/host/?token={key}") is None
    services.token_revoke(user=host)
    assert _close_code_of(f"/ws/streams/{stream.id}/host/?token={key}") == 4403
