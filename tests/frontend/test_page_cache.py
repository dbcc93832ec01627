"""The pages fans reload during a rush: shared parts rendered once, personal parts per request,
304s for unchanged reloads, compressed bodies, and seat figures that keep themselves current.
Marked ``page_cache``: the shared cache is on, as in production (tests/conftest.py)."""

import gzip
import re
import time

import pytest
from django.test import Client, override_settings
from django.test.signals import template_rendered

from events.models import Session
from frontend import views as frontend_views
from notices.models import Notice
from notices.services import Outgoing, notices_queue
from registrations import services as registration_services
from registrations.models import Registration
from tests.factories import MembershipFactory, RegistrationFactory, SessionFactory, UserFactory, organizer_of

pytestmark = [pytest.mark.django_db, pytest.mark.page_cache]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def seats_line(body: str) -> str:
    match = re.search(r'<p class="seats-big">(.*?)</p>', body, re.S)
    assert match, "no seat figures on the page"
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


def test_a_reloaded_session_page_costs_no_query_for_a_visitor(django_assert_num_queries):
    session = SessionFactory(title="Milky Way over the grottoes", capacity=30)
    url = f"/sessions/{session.id}/"
    assert Client().get(url).status_code == 200
    with django_assert_num_queries(0):
        response = Client().get(url)
    assert "Milky Way over the grottoes" in response.content.decode()
    assert seats_line(response.content.decode()) == "30 of 30 seats left"


def test_a_signed_in_fan_costs_their_session_their_account_their_bell_and_their_place(django_assert_max_num_queries):
    session = SessionFactory(capacity=30)
    fan = UserFactory()
    RegistrationFactory(session=session, fan=fan)
    client = signed_in(fan)
    url = f"/sessions/{session.id}/"
    client.get(url)
    # The session row (read from Redis instead where there is one), the user with their memberships
    # and their bell's unread count (one statement), the fan's place with the seats.
    with django_assert_max_num_queries(3):
        body = client.get(url).content.decode()
    assert "You're registered" in body


def test_fans_sharing_one_rendering_of_a_page_each_see_their_own_name_bell_and_links():
    session = SessionFactory(capacity=30)
    quiet, busy, organizer = UserFactory(), UserFactory(), UserFactory()
    notices_queue(
        kind=Notice.Kind.MESSAGE,
        outgoing=[Outgoing(recipient=busy, subject=f"Tripods {n}", body="Bring one.") for n in range(3)],
    )
    MembershipFactory(user=organizer)
    for url in ("/", f"/sessions/{session.id}/"):
        pages = {fan: signed_in(fan).get(url).content.decode() for fan in (quiet, busy, organizer)}
        for fan, page in pages.items():
            assert f"({fan.username})" in page
            others = [other.username for other in pages if other != fan]
            assert not any(f"({name})" in page for name in others)
        assert "unread-count" not in pages[quiet]
        assert 'aria-label="3 unread notices">3</span>' in pages[busy]
        assert 'href="/plan/"' in pages[organizer] and 'href="/plan/"' not in pages[quiet]
        assert not re.search(r"placeholder-[0-9a-f]{4}", "".join(pages.values()))


def test_a_membership_given_shows_its_workspace_link_on_the_next_page():
    fan = UserFactory()
    client = signed_in(fan)
    assert 'href="/plan/"' not in client.get("/").content.decode()
    MembershipFactory(user=fan)
    assert 'href="/plan/"' in client.get("/").content.decode()


def test_each_fan_sees_their_own_place_in_the_shared_page():
    session = SessionFactory(capacity=1)
    first, second, third = UserFactory(), UserFactory(), UserFactory()
    RegistrationFactory(session=session, fan=first)
    RegistrationFactory(session=session, fan=second, status="waitlisted", waitlist_position=1)
    url = f"/sessions/{session.id}/"
    assert "You're registered" in signed_in(first).get(url).content.decode()
    assert "You're on the waitlist, #1" in signed_in(second).get(url).content.decode()
    third_page = signed_in(third).get(url).content.decode()
    assert "You're registered" not in third_page and "waitlist, #" not in third_page
    for fan, client_body in ((first, signed_in(first).get(url).content.decode()), (third, third_page)):
        assert fan.username in client_body
        assert re.search(r'<meta name="csrf-token" content="[A-Za-z0-9]{64}">', client_body)


def test_a_signed_in_fans_csrf_token_is_masked_afresh_on_every_page():
    session = SessionFactory()
    client = signed_in(UserFactory())
    tokens = {
        re.search(r'name="csrf-token" content="([^"]+)"', client.get(f"/sessions/{session.id}/").content.decode())[1]
        for _ in range(3)
    }
    assert len(tokens) == 3


def test_a_fan_who_registered_sees_the_seat_taken_even_before_the_shared_copy_expires(api_client):
    session = SessionFactory(capacity=1)
    url = f"/sessions/{session.id}/"
    assert seats_line(Client().get(url).content.decode()) == "1 of 1 seat left"  # shared copy made
    fan = UserFactory()
    api_client.force_authenticate(fan)
    assert api_client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json").status_code == 201
    assert seats_line(signed_in(fan).get(url).content.decode()) == "Full · 1 seat"


@pytest.mark.parametrize("query", ["?near=45.75%2C126.65", "?kind=talk&kind=night_shoot", "?page=1&q=night"])
def test_a_filtered_home_page_is_kept_and_shared_for_visitors_and_fans(query):
    SessionFactory(title="Ice lantern night shoot")
    fan = signed_in(UserFactory())
    for client in (Client(), fan, Client(), fan):  # made, then kept
        assert client.get("/" + query).status_code == 200


def test_a_signed_in_fan_without_a_place_sees_seats_others_took_at_once(api_client):
    session = SessionFactory(capacity=2)
    url = f"/sessions/{session.id}/"
    watcher = signed_in(UserFactory())
    assert seats_line(watcher.get(url).content.decode()) == "2 of 2 seats left"
    api_client.force_authenticate(UserFactory())
    assert api_client.post(f"/api/sessions/{session.id}/registrations/", {}, format="json").status_code == 201
    assert seats_line(watcher.get(url).content.decode()) == "1 of 2 seats left"


def test_a_planning_change_shows_at_once_to_organizers_and_within_half_the_cache_time_to_fans_and_visitors(
    django_capture_on_commit_callbacks, settings
):
    session = SessionFactory(title="Night shoot at the old wall")
    fan = signed_in(UserFactory())
    organizer = signed_in(organizer_of(session.series.organization))
    url = f"/sessions/{session.id}/"
    for client in (Client(), fan, organizer):
        assert "Night shoot at the old wall" in client.get(url).content.decode()
        assert "Night shoot at the old wall" in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        session.title = "Night shoot at the bell tower"
        session.save()
    assert "Night shoot at the bell tower" in organizer.get(url).content.decode()
    assert "Night shoot at the bell tower" in organizer.get("/").content.decode()
    time.sleep(settings.PAGE_CACHE_SECONDS / 2 + 0.1)  # this process's copies expire
    assert "Night shoot at the bell tower" in fan.get(url).content.decode()
    assert "Night shoot at the bell tower" in fan.get("/").content.decode()
    assert "Night shoot at the bell tower" in Client().get(url).content.decode()
    assert "Night shoot at the bell tower" in Client().get("/").content.decode()


def test_an_unchanged_page_is_answered_304_and_a_change_gets_a_new_page(django_capture_on_commit_callbacks):
    session = SessionFactory(title="Star trails")
    client = Client()
    for url in (f"/sessions/{session.id}/", "/"):
        first = client.get(url)
        assert first.status_code == 200 and first["ETag"] and first["Last-Modified"]
        assert client.get(url, headers={"if-none-match": first["ETag"]}).status_code == 304
    fan = UserFactory()
    fan_client = signed_in(fan)
    fan_client.get(f"/sessions/{session.id}/")  # the first page gives them a CSRF cookie
    first = fan_client.get(f"/sessions/{session.id}/")
    assert fan_client.get(f"/sessions/{session.id}/", headers={"if-none-match": first["ETag"]}).status_code == 304
    RegistrationFactory(session=session, fan=fan)  # their own part changed
    assert fan_client.get(f"/sessions/{session.id}/", headers={"if-none-match": first["ETag"]}).status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        session.title = "Star trails over the lake"
        session.save()
    assert client.get("/", headers={"if-none-match": first["ETag"]}).status_code == 200


def test_pages_are_compressed_for_clients_that_accept_it():
    session = SessionFactory()
    for url in ("/", f"/sessions/{session.id}/"):
        response = Client().get(url, headers={"accept-encoding": "gzip"})
        assert response["Content-Encoding"] == "gzip"
        assert "<html" in gzip.decompress(response.content).decode()
        assert "Content-Encoding" not in Client().get(url)


def test_a_visitors_page_holds_nothing_of_their_own_so_one_copy_serves_everyone():
    session = SessionFactory()
    response = Client().get(f"/sessions/{session.id}/")
    assert "csrf" not in response.content.decode().lower()
    assert "csrftoken" not in response.cookies


def test_the_language_switch_works_without_a_token():
    response = Client(enforce_csrf_checks=True).post("/language/", {"language": "en", "next": "/"})
    assert response.status_code == 302
    assert response.cookies["aperture_language"].value == "en"


# --- Seat figures that pages poll ---------------------------------------------------------


def test_seat_figures_answer_without_authentication_and_304_when_unchanged(api_client):
    session = SessionFactory(capacity=20, confirmed_count=5, waitlist_count=0)
    response = Client().get(f"/api/sessions/{session.id}/seats/")
    assert response.status_code == 200
    assert response.json() == {
        "session": session.id,
        "status": "published",
        "capacity": 20,
        "confirmed_count": 5,
        "waitlist_count": 0,
        "seats_left": 15,
        "waitlist_enabled": session.waitlist_enabled,
    }
    assert response["Cache-Control"] == "public, max-age=1"
    again = Client().get(f"/api/sessions/{session.id}/seats/", headers={"if-none-match": response["ETag"]})
    assert again.status_code == 304


def test_seat_figures_of_a_draft_or_a_missing_session_are_404():
    draft = SessionFactory(status=Session.Status.DRAFT)
    for session_id in (draft.id, 999999):
        response = Client().get(f"/api/sessions/{session_id}/seats/")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


# --- The home page is paginated in the database ------------------------------------------


def test_the_home_page_reads_one_page_of_sessions_whatever_their_number(django_assert_max_num_queries):
    SessionFactory.create_batch(35)
    with override_settings(PAGE_CACHE_SECONDS=0), django_assert_max_num_queries(6):
        first = Client().get("/").content.decode()
    with override_settings(PAGE_CACHE_SECONDS=0), django_assert_max_num_queries(6):
        second = Client().get("/?page=2").content.decode()
    assert first.count('class="card"') == 30
    assert second.count('class="card"') == 5
    assert "35 sessions" in first


def test_each_address_the_site_is_asked_by_gets_links_to_itself(settings):
    settings.SITE_URL = ""
    settings.ALLOWED_HOSTS = ["127.0.0.1", "aperture.example"]
    session = SessionFactory()
    for url in (f"/sessions/{session.id}/", "/"):
        for _ in range(2):  # the second time from the shared copies
            for host in ("127.0.0.1:8101", "aperture.example"):
                body = Client().get(url, headers={"host": host}).content.decode()
                other = "aperture.example" if host.startswith("127") else "127.0.0.1:8101"
                if url != "/":
                    assert f"http://{host}/sessions/{session.id}/" in body  # in the add-to-calendar links
                assert other not in body


def test_a_fan_waitlisted_on_many_sessions_gets_every_position_in_the_one_statement_of_their_places(
    django_assert_max_num_queries,
):
    """Each waitlisted card's position comes with the statement that reads the fan's places (the
    waiting line is read once per process, registrations.lines), not from a query per card: the page
    costs the same whether the fan waits on one session or on five."""
    fan = UserFactory()
    for ahead in range(5):
        waiting = ahead + 1
        session = SessionFactory(capacity=1, waitlist_enabled=True, waitlist_seq=waiting, waitlist_parties=waiting)
        RegistrationFactory(session=session, status="confirmed")
        for ticket in range(1, ahead + 1):
            RegistrationFactory(session=session, status="waitlisted", waitlist_ticket=ticket)
        RegistrationFactory(session=session, fan=fan, status="waitlisted", waitlist_ticket=ahead + 1)
    client = signed_in(fan)
    client.get("/")
    with django_assert_max_num_queries(3):
        body = client.get("/").content.decode()
    assert sorted(int(n) for n in re.findall(r"Waitlisted #(\d+)", body)) == [1, 2, 3, 4, 5]
    session_page = client.get(f"/sessions/{session.id}/").content.decode()
    assert "You're on the waitlist, #5" in session_page


def test_fans_holding_different_places_share_one_rendering_of_the_layout():
    """After a rush most fans who reload hold a place: each costs the filling in of their own part,
    not a rendering of the whole page, and fans in the same state share the rendering of their
    registration panel (their registration number and position are put in per fan)."""
    session = SessionFactory(capacity=1, waitlist_enabled=True)
    fans = [UserFactory() for _ in range(4)]
    places = [RegistrationFactory(session=session, fan=fans[0], status="confirmed")]
    for ticket, fan in enumerate(fans[1:], start=1):
        places.append(RegistrationFactory(session=session, fan=fan, status="waitlisted", waitlist_ticket=ticket))
    rendered: list[str] = []

    def record(sender, template, **kwargs):
        rendered.append(template.name)

    own_parts = {"/": ("✓ You're registered", "Waitlisted #{}")}
    own_parts[f"/sessions/{session.id}/"] = ("You're registered", "You're on the waitlist, #{}")
    frontend_views._my_card_tag.cache_clear()
    for url, (confirmed, waitlisted) in own_parts.items():
        rendered.clear()
        template_rendered.connect(record)
        try:
            pages = [signed_in(fan).get(url).content.decode() for fan in fans]
        finally:
            template_rendered.disconnect(record)
        assert rendered.count("frontend/base.html") == 1
        assert confirmed in pages[0]
        if url == "/":  # one card tag for the seated fan, one shared by the three waiting
            assert rendered.count("frontend/includes/my_card_tag.html") == 2
        else:  # likewise one panel for the seated fan, one shared by the three waiting
            assert rendered.count("frontend/includes/registration_panel.html") == 2
            for place, page in zip(places, pages, strict=True):
                own = set(re.findall(r"/api/registrations/(\d+)/", page))
                assert own == {str(place.id)}
        for position, page in enumerate(pages[1:], start=1):
            assert waitlisted.format(position) in page and confirmed not in page
            assert not any(waitlisted.format(other) in page for other in range(1, 4) if other != position)


def test_an_offer_declined_with_nobody_else_waiting_frees_the_seat_on_a_seated_fans_next_page():
    """Declining changes only the seats held by offers (nobody else waits, nobody else is seated):
    the seated fan's reload must not be answered 304 with the page that showed the seat held."""
    session = SessionFactory(capacity=2, offer_hold_minutes=60, waitlist_enabled=True)
    viewer, leaving, waiting = UserFactory(), UserFactory(), UserFactory()
    for fan in (viewer, leaving, waiting):
        registration_services.registration_get_or_create(session_id=session.id, fan=fan)
    registration_services.registration_cancel(registration=Registration.objects.get(session=session, fan=leaving))
    offer = Registration.objects.get(session=session, fan=waiting)
    assert offer.status == "offered"
    client, url = signed_in(viewer), f"/sessions/{session.id}/"
    held = client.get(url)
    assert seats_line(held.content.decode()) == "Full · 2 seats"
    registration_services.offer_decline(registration=offer)
    freed = client.get(url, HTTP_IF_NONE_MATCH=held["ETag"])
    assert freed.status_code == 200
    assert seats_line(freed.content.decode()) == "1 of 2 seats left"
