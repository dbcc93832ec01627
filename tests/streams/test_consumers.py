"""Consumer rules with the in-process WebsocketCommunicator (real servers: test_live_servers.py)."""

import asyncio
import json

import pytest
from asgiref.sync import async_to_sync
from channels.routing import URLRouter
from channels.testing.websocket import WebsocketCommunicator
from rest_framework.authtoken.models import Token

from events.models import Session
from project.ws_auth import TokenOrSessionAuthMiddleware
from streams import hub, services
from streams.routing import websocket_urlpatterns
from streams.viewer_ids import VIEWER_COOKIE, signed_viewer_id
from tests.factories import SessionFactory, StreamFactory, UserFactory, host_of, organizer_of

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _keep_the_test_connection(monkeypatch):
    """Channels closes "old" database connections around every database_sync_to_async call and
    every received frame; in a test that would close the connection holding the test transaction.
    (The real-server tests in test_live_servers.py run with Channels' cleanup untouched.)"""
    import channels.consumer
    import channels.db

    async def _noop_async() -> None:
        return None

    monkeypatch.setattr(channels.db, "close_old_connections", lambda: None)
    monkeypatch.setattr(channels.consumer, "aclose_old_connections", _noop_async)


APP = TokenOrSessionAuthMiddleware(URLRouter(websocket_urlpatterns))


@pytest.fixture(autouse=True)
def _fast_ticks(settings):
    settings.PRESENCE_TICK_SECONDS = 0.05
    settings.PRESENCE_SAMPLE_SECONDS = 0.2


@pytest.fixture
def stream(organization, host):
    session = SessionFactory(series__organization=organization, kind=Session.Kind.LIVESTREAM)
    return StreamFactory(session=session, hosts=[host])


def token(user) -> str:
    return Token.objects.get_or_create(user=user)[0].key


def path(stream_id: int, *, host: bool = False, user=None) -> str:
    url = f"/ws/streams/{stream_id}/" + ("host/" if host else "")
    return url + (f"?token={token(user)}" if user is not None else "")


def run(scenario):
    """Run an async scenario in a fresh loop and stop this loop's ticker afterwards."""

    async def wrapped():
        try:
            return await scenario()
        finally:
            await hub.get_hub().stop()

    return async_to_sync(wrapped)()


async def connect(url: str, *, viewer: str | None = None, address: str = "203.0.113.7") -> WebsocketCommunicator:
    """A socket from ``address``; ``viewer``: the browser id the stream page would have set (signed)."""
    headers = [(b"cookie", f"{VIEWER_COOKIE}={signed_viewer_id(viewer)}".encode())] if viewer else []
    communicator = WebsocketCommunicator(APP, url, headers=headers)
    communicator.scope["client"] = (address, 50000)
    connected, _ = await communicator.connect(timeout=10)
    assert connected
    return communicator


async def next_figures(communicator, *, until=lambda m: True, timeout: float = 10.0) -> dict:
    """The first viewers message that satisfies ``until``."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        remaining = deadline - asyncio.get_running_loop().time()
        assert remaining > 0, "no matching message in time"
        message = json.loads(await communicator.receive_from(timeout=remaining))
        assert message["type"] == "viewers"
        if until(message):
            return message


async def closed_with(communicator) -> int:
    output = await communicator.receive_output(timeout=10)
    while output["type"] != "websocket.close":
        output = await communicator.receive_output(timeout=10)
    return output.get("code")


def test_viewer_receives_the_contract_message(stream):
    async def scenario():
        viewer = await connect(path(stream.id))
        message = await next_figures(viewer, until=lambda m: m["concurrent"] == 1)
        assert {"type", "concurrent", "peak", "total_views", "at"} <= set(message)
        assert message["peak"] >= 1
        assert message["total_views"] == 1
        assert "unique_viewers" not in message
        await viewer.disconnect()

    run(scenario)


def test_unknown_stream_is_closed_with_4404(db):
    async def scenario():
        viewer = await connect(path(999999))
        assert await closed_with(viewer) == 4404

    run(scenario)


def test_stream_of_a_draft_session_is_hidden_from_anonymous_viewers(organization):
    hidden = StreamFactory(session=SessionFactory(series__organization=organization, status=Session.Status.DRAFT))

    async def scenario():
        assert await closed_with(await connect(path(hidden.id))) == 4404

    run(scenario)


def test_host_channel_closes_everyone_else_with_4403(organization, stream):
    fan = UserFactory()
    other_host = host_of(organization)
    stranger = organizer_of(StreamFactory().organization)
    urls = [path(stream.id, host=True), *(path(stream.id, host=True, user=u) for u in (fan, other_host, stranger))]

    async def scenario():
        for url in urls:
            assert await closed_with(await connect(url)) == 4403, url

    run(scenario)


@pytest.mark.parametrize("who", ["stream_host", "organizer"])
def test_host_channel_adds_unique_viewers_and_platforms(who, host, organizer, stream):
    user = host if who == "stream_host" else organizer
    dashboard_url = path(stream.id, host=True, user=user)

    async def scenario():
        dashboard = await connect(dashboard_url)
        viewer = await connect(path(stream.id))
        message = await next_figures(dashboard, until=lambda m: m["concurrent"] == 1)
        assert message["unique_viewers"] == 1
        assert message["platforms"] == {"web": 1}
        await viewer.disconnect()
        await dashboard.disconnect()

    run(scenario)


def test_host_dashboard_is_not_counted_as_a_viewer(host, stream):
    dashboard_url = path(stream.id, host=True, user=host)

    async def scenario():
        dashboard = await connect(dashboard_url)
        message = await next_figures(dashboard)
        await asyncio.sleep(0.2)
        assert message["concurrent"] == 0
        assert await dashboard.receive_nothing(timeout=0.2)
        await dashboard.disconnect()

    run(scenario)


def test_heartbeats_and_other_messages_are_ignored(stream):
    async def scenario():
        viewer = await connect(path(stream.id))
        await next_figures(viewer, until=lambda m: m["concurrent"] == 1)
        for frame in ({"type": "heartbeat"}, {"type": "viewers", "concurrent": 10**6}, {"type": "chat", "x": 1}):
            await viewer.send_to(text_data=json.dumps(frame))
        assert await viewer.receive_nothing(timeout=0.3)  # no reply, no close, figures unchanged
        await viewer.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    ("frame", "code"),
    [
        ({"bytes_data": b"\x00\x01"}, 1003),
        ({"text_data": json.dumps({"type": "heartbeat", "pad": "x" * 5000})}, 1009),
        ({"text_data": "{not json"}, 4400),
        ({"text_data": "[1, 2]"}, 4400),
        ({"text_data": "[" * 4096}, 4400),  # json.loads raises RecursionError on it, not ValueError
        ({"text_data": '{"type": "heartbeat", "x": ' + "{" * 2000}, 4400),
        ({"text_data": '{"type": "heartbeat", "x": [[[[[[[[[1]]]]]]]]]}'}, 4400),
    ],
)
def test_bad_frame_closes_only_that_socket(frame, code, stream):
    async def scenario():
        bad = await connect(path(stream.id))
        good = await connect(path(stream.id))
        await next_figures(good, until=lambda m: m["concurrent"] == 2)
        await bad.send_to(**frame)
        assert await closed_with(bad) == code
        message = await next_figures(good, until=lambda m: m["concurrent"] == 1)
        assert message["peak"] == 2
        await good.disconnect()

    run(scenario)


def test_one_viewer_in_three_tabs_is_one_unique_viewer_and_one_view(host, stream):
    dashboard_url, tab_url = path(stream.id, host=True, user=host), path(stream.id, user=UserFactory())

    async def scenario():
        dashboard = await connect(dashboard_url)
        tabs = [await connect(tab_url) for _ in range(3)]
        message = await next_figures(dashboard, until=lambda m: m["concurrent"] == 3)
        assert (message["unique_viewers"], message["total_views"]) == (1, 1)
        for tab in tabs:
            await tab.disconnect()
        await dashboard.disconnect()

    run(scenario)


def test_reload_within_grace_is_not_a_new_view_but_a_later_return_is(settings, stream):
    settings.PRESENCE_VIEW_GRACE_SECONDS = 0.6

    async def scenario():
        watcher = await connect(path(stream.id), viewer="watcher-0001")
        first = await connect(path(stream.id), viewer="browser-0001")
        await next_figures(watcher, until=lambda m: m["concurrent"] == 2 and m["total_views"] == 2)
        await first.disconnect()
        # (Changes are coalesced: a leave and a rejoin within one push interval may never show.)
        await next_figures(watcher, until=lambda m: m["concurrent"] == 1)
        reload = await connect(path(stream.id), viewer="browser-0001")
        message = await next_figures(watcher, until=lambda m: m["concurrent"] == 2)
        assert message["total_views"] == 2
        await reload.disconnect()
        await asyncio.sleep(0.9)  # longer than the grace
        back = await connect(path(stream.id), viewer="browser-0001")
        message = await next_figures(watcher, until=lambda m: m["concurrent"] == 2 and m["total_views"] > 2)
        assert message["total_views"] == 3
        await back.disconnect()
        await watcher.disconnect()

    run(scenario)


def test_redis_outage_shows_the_last_figures_marked_stale(settings, stream, dead_port):
    settings.REDIS_URL = f"redis://127.0.0.1:{dead_port}/0"

    async def scenario():
        viewer = await connect(path(stream.id))
        # No figures could ever be read: nothing is pushed rather than an error; the socket stays open.
        assert await viewer.receive_nothing(timeout=0.4)
        await viewer.disconnect()

    run(scenario)


def test_figures_turn_stale_when_the_store_goes_away_and_fresh_when_it_returns(settings, stream, dead_port):
    async def scenario():
        viewer = await connect(path(stream.id))
        await next_figures(viewer, until=lambda m: m["concurrent"] == 1 and m["stale"] is False)
        good_url = settings.REDIS_URL
        settings.REDIS_URL = f"redis://127.0.0.1:{dead_port}/0"
        stale = await next_figures(viewer, until=lambda m: m["stale"] is True)
        assert stale["concurrent"] == 1
        settings.REDIS_URL = good_url
        await next_figures(viewer, until=lambda m: m["stale"] is False)
        await viewer.disconnect()

    run(scenario)


def test_ending_the_stream_freezes_the_figures_for_its_viewers(stream):
    async def scenario():
        viewer = await connect(path(stream.id))
        await next_figures(viewer, until=lambda m: m["concurrent"] == 1)
        await _end(stream)
        final = await next_figures(viewer, until=lambda m: m["status"] == "ended")
        assert (final["concurrent"], final["peak"], final["total_views"]) == (0, 1, 1)
        late = await connect(path(stream.id))
        assert (await next_figures(late))["total_views"] == 1
        await late.disconnect()
        await viewer.disconnect()

    run(scenario)


async def _end(stream):
    from channels.db import database_sync_to_async

    await database_sync_to_async(lambda: services.stream_end(stream=stream))()


def test_a_dead_ticker_comes_back_on_the_next_leave(stream):
    async def scenario():
        first, second = await connect(path(stream.id)), await connect(path(stream.id))
        await next_figures(first, until=lambda m: m["concurrent"] == 2)
        ticker = hub.get_hub().task
        ticker.cancel()
        await asyncio.gather(ticker, return_exceptions=True)
        await second.disconnect()
        await next_figures(first, until=lambda m: m["concurrent"] == 1)
        await first.disconnect()

    run(scenario)


def test_a_frame_of_4096_nested_brackets_never_leaves_a_viewer_counted(stream):
    async def scenario():
        watcher = await connect(path(stream.id))
        await next_figures(watcher, until=lambda m: m["concurrent"] == 1)
        for _ in range(20):
            attacker = await connect(path(stream.id))
            await attacker.send_to(text_data="[" * 4096)
            assert await closed_with(attacker) == 4400
            await attacker.disconnect()  # what the server does after the close
        assert sum(len(local.viewers) for local in hub.get_hub().streams.values()) == 1
        newcomer = await connect(path(stream.id))
        message = await next_figures(watcher, until=lambda m: m["concurrent"] != 1)
        assert message["concurrent"] == 2  # the watcher and the newcomer: none of the 20 is left
        await newcomer.disconnect()
        await watcher.disconnect()

    run(scenario)


def test_an_unexpected_error_in_the_consumer_closes_that_socket_and_it_leaves_the_count(monkeypatch, stream):
    from streams.consumers import ViewerConsumer

    async def broken(self, text_data=None, bytes_data=None):
        raise RuntimeError("a bug")

    async def scenario():
        watcher = await connect(path(stream.id))
        victim = await connect(path(stream.id))
        await next_figures(watcher, until=lambda m: m["concurrent"] == 2)
        monkeypatch.setattr(ViewerConsumer, "receive", broken)
        await victim.send_to(text_data='{"type": "heartbeat"}')
        assert await closed_with(victim) == 1011
        await next_figures(watcher, until=lambda m: m["concurrent"] == 1)
        await watcher.disconnect()

    run(scenario)


def test_even_a_consumer_that_crashes_outright_leaves_the_count(monkeypatch, stream):
    """The ``finally`` around the consumer's life: nothing that happens inside it keeps a viewer counted."""
    from streams.consumers import ViewerConsumer

    async def crash(self, message):
        if message["type"] == "websocket.receive":
            raise RuntimeError("a bug outside every handler")
        await original(self, message)

    original = ViewerConsumer.dispatch

    async def scenario():
        watcher = await connect(path(stream.id))  # never sends, so never crashes
        victim = await connect(path(stream.id))
        await next_figures(watcher, until=lambda m: m["concurrent"] == 2)
        await victim.send_to(text_data='{"type": "heartbeat"}')
        with pytest.raises(RuntimeError, match="outside every handler"):
            await victim.wait(timeout=5)
        await next_figures(watcher, until=lambda m: m["concurrent"] == 1)
        await watcher.disconnect()

    monkeypatch.setattr(ViewerConsumer, "dispatch", crash)

    run(scenario)


def test_a_stream_id_beyond_64_bits_is_closed_with_4404(db):
    async def scenario():
        viewer = await connect(path(2**64))
        assert await closed_with(viewer) == 4404

    run(scenario)


def test_one_address_holds_at_most_the_cap_of_sockets_and_gets_them_back_on_close(settings, stream):
    settings.WS_MAX_SOCKETS_PER_ADDRESS = 5

    async def scenario():
        mine = [await connect(path(stream.id), viewer=f"browser-{n:04}") for n in range(5)]
        await next_figures(mine[0], until=lambda m: m["concurrent"] == 5)
        refused = await connect(path(stream.id), viewer="browser-9999")
        assert await closed_with(refused) == 4429
        neighbour = await connect(path(stream.id), address="198.51.100.20")  # another address is not capped
        await next_figures(mine[0], until=lambda m: m["concurrent"] == 6)
        await mine[0].disconnect()
        again = await connect(path(stream.id))  # a slot freed by a close is free again
        await next_figures(again, until=lambda m: m["concurrent"] == 6)
        for communicator in [*mine[1:], neighbour, again]:
            await communicator.disconnect()
        assert not hub.get_hub().addresses  # every slot given back

    run(scenario)


def test_150_made_up_viewer_ids_from_one_address_are_one_viewer(settings, host, stream):
    """The attack of issue 10: 150 sockets, 150 ``?viewer=`` values, 151 viewers counted."""
    settings.WS_MAX_SOCKETS_PER_ADDRESS = 0

    dashboard_url = path(stream.id, host=True, user=host)

    async def scenario():
        dashboard = await connect(dashboard_url)
        fakes = [await connect(path(stream.id) + f"?viewer=made-up-{n:04}") for n in range(150)]
        forged = await connect(path(stream.id))
        forged_cookie = WebsocketCommunicator(
            APP, path(stream.id), headers=[(b"cookie", f"{VIEWER_COOKIE}=browser-0001:forged".encode())]
        )
        forged_cookie.scope["client"] = ("203.0.113.7", 50001)
        assert (await forged_cookie.connect(timeout=10))[0]
        message = await next_figures(dashboard, until=lambda m: m["concurrent"] == 152)
        assert (message["unique_viewers"], message["total_views"]) == (1, 1)
        for communicator in [*fakes, forged, forged_cookie, dashboard]:
            await communicator.disconnect()

    run(scenario)


def test_browsers_with_their_signed_ids_are_distinct_viewers_behind_one_address(host, stream):
    dashboard_url = path(stream.id, host=True, user=host)

    async def scenario():
        dashboard = await connect(dashboard_url)
        browsers = [await connect(path(stream.id), viewer=f"browser-{n:04}") for n in range(4)]
        message = await next_figures(dashboard, until=lambda m: m["concurrent"] == 4)
        assert (message["unique_viewers"], message["total_views"]) == (4, 4)
        for communicator in [*browsers, dashboard]:
            await communicator.disconnect()

    run(scenario)


@pytest.mark.parametrize(
    ("audience", "seat", "allowed"),
    [("confirmed", None, False), ("confirmed", "waitlisted", False), ("confirmed", "confirmed", True),
     ("registered", "waitlisted", True)],
)  # fmt: skip
def test_viewer_socket_follows_the_streams_audience_and_a_refused_fan_is_never_counted(stream, audience, seat, allowed):
    from registrations.models import Registration
    from streams.models import Stream
    from streams.selectors import stream_figures
    from tests.factories import RegistrationFactory

    Stream.objects.filter(id=stream.id).update(audience=audience, status="live")
    fan = UserFactory()
    if seat is not None:
        RegistrationFactory(session=stream.session, fan=fan, status=getattr(Registration.Status, seat.upper()))
    fan_path, anonymous_path = path(stream.id, user=fan), path(stream.id)

    async def scenario():
        anonymous = await connect(anonymous_path, address="203.0.113.8")
        assert await closed_with(anonymous) == 4403
        socket = await connect(fan_path)
        if allowed:
            await next_figures(socket, until=lambda m: m["concurrent"] == 1)
            await socket.disconnect()
        else:
            assert await closed_with(socket) == 4403

    run(scenario)
    stream.refresh_from_db()
    assert stream_figures(stream=stream).total_views == (1 if allowed else 0)
