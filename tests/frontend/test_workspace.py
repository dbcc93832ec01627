"""The organizers' workspace (issue 12): month board, session forms, door, roster, host home."""

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.models import User
from events.models import Session
from frontend.demo import load_demo
from tests.factories import (
    CityFactory,
    OrganizationFactory,
    RegistrationFactory,
    SessionFactory,
    UserFactory,
    VenueFactory,
    host_of,
    organizer_of,
)

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def client_for(user: User | None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


@pytest.fixture
def demo():
    return load_demo(today=dt.date(2026, 11, 25)).series


def test_board_shows_the_demo_month_in_local_time_with_zone_and_hosts(demo):
    organizer = User.objects.get(username="organizer")
    response = client_for(organizer).get(f"/plan/{demo.id}/")
    assert response.status_code == 200
    body = response.content.decode()
    sessions = Session.objects.filter(series=demo)
    assert body.count('class="board-row ') == sessions.count() >= 127
    first = sessions.select_related("venue").first()
    local = first.starts_at.astimezone(zoneinfo.ZoneInfo(first.timezone))
    assert f"{local:%H:%M}" in body
    assert "Beijing time (UTC+8)" in body
    host = first.hosts.first()
    assert (host.get_full_name() or host.username) in body
    assert "0 conflicts" in body


def test_board_is_in_the_navigation_for_organizers_only(demo):
    organizer = User.objects.get(username="organizer")
    fan = User.objects.get(username="fan")
    assert 'href="/plan/"' in client_for(organizer).get("/").content.decode()
    assert 'href="/plan/"' not in client_for(fan).get("/").content.decode()
    assert client_for(fan).get(f"/plan/{demo.id}/").status_code == 404
    assert client_for(None).get(f"/plan/{demo.id}/").status_code == 302


def _series_with(n: int, organization, city: str = "Luoyang"):
    venue = VenueFactory(
        organization=organization,
        city=CityFactory(organization=organization, name=city, latitude=34.62, longitude=112.45),
    )
    host = host_of(venue.organization, first_name="Lei", last_name="Wang")
    first = SessionFactory(venue=venue, series__organization=venue.organization)
    start = first.starts_at
    for i in range(1, n):
        session = SessionFactory(
            venue=venue,
            series=first.series,
            starts_at=start + dt.timedelta(days=i),
            ends_at=start + dt.timedelta(days=i, hours=2),
        )
        session.hosts.set([host])
    return first.series


def test_board_query_count_does_not_grow_with_sessions():
    organization = OrganizationFactory()
    organizer = organizer_of(organization)
    small, large = _series_with(3, organization), _series_with(30, organization, city="Zhengzhou")
    client = client_for(organizer)
    counts = []
    for series in (small, large):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(f"/plan/{series.id}/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_board_lists_conflicts_in_words_with_host_names_and_local_times():
    organization = OrganizationFactory()
    organizer = organizer_of(organization)
    series = _series_with(1, organization)
    session = series.sessions.get()
    host = host_of(organization, first_name="Lei", last_name="Wang")
    session.hosts.set([host])
    chengdu = VenueFactory(
        organization=series.organization,
        city=CityFactory(organization=series.organization, name="Chengdu", latitude=30.66, longitude=104.07),
    )
    later = SessionFactory(
        series=series,
        venue=chengdu,
        title="Chengdu after dark",
        starts_at=session.ends_at + dt.timedelta(hours=1),
        ends_at=session.ends_at + dt.timedelta(hours=3),
    )
    later.hosts.set([host])
    body = client_for(organizer).get(f"/plan/{series.id}/").content.decode()
    assert "1 conflict" in body
    assert "Lei Wang cannot travel Luoyang -&gt; Chengdu in time" in body
    assert "has 1 h." in body
    local_end = later.starts_at.astimezone(SHANGHAI)
    assert f"{local_end:%H:%M}" in body


# --- Door check-in -----------------------------------------------------------------------------


def test_door_page_is_for_the_sessions_hosts_and_organizers():
    organization = OrganizationFactory()
    host = host_of(organization)
    session = SessionFactory(series__organization=organization, hosts=[host])
    other_host = host_of(OrganizationFactory())
    assert client_for(host).get(f"/door/{session.id}/").status_code == 200
    assert client_for(organizer_of(organization)).get(f"/door/{session.id}/").status_code == 200
    assert client_for(other_host).get(f"/door/{session.id}/").status_code == 403
    assert client_for(None).get(f"/door/{session.id}/").status_code == 302


def test_door_page_shows_the_count_and_loads_jsqr_from_this_site_only():
    organization = OrganizationFactory()
    host = host_of(organization)
    session = SessionFactory(series__organization=organization, hosts=[host])
    RegistrationFactory(session=session)
    body = client_for(host).get(f"/door/{session.id}/").content.decode()
    assert "data-checked-in>0<" in body and "data-confirmed>1<" in body
    assert 'data-jsqr-src="/static/frontend/vendor/jsqr-1.4.0/jsQR.js"' in body
    assert "<script>" not in body and "style=" not in body


def test_my_sessions_shows_the_short_code_grouped_for_reading():
    registration = RegistrationFactory()
    registration.checkin_code = "7K3M9XQ2HR4T"
    registration.save(update_fields=["checkin_code"])
    body = client_for(registration.fan).get("/sessions/mine/").content.decode()
    assert "7K3M-9XQ2-HR4T" in body


# --- Session forms -----------------------------------------------------------------------------


@pytest.fixture
def planned():
    """An organizer, a Luoyang venue (Asia/Shanghai) and a series with one session."""
    organization = OrganizationFactory()
    luoyang = CityFactory(
        organization=organization, name="Luoyang", local_name="洛阳", latitude=34.62, longitude=112.45
    )
    venue = VenueFactory(organization=organization, city=luoyang, name="Longmen Hall", timezone="Asia/Shanghai")
    session = SessionFactory(series__organization=organization, venue=venue, title="Grottoes by night")
    return {"organizer": organizer_of(organization), "venue": venue, "series": session.series, "session": session}


def _form(venue, day: dt.date, start: str, end: str, **extra) -> dict:
    return {
        "kind": "talk",
        "title": "Light over the Yi river",
        "city": venue.city_id,
        "venue": venue.id,
        "date": day.isoformat(),
        "start": start,
        "end": end,
        "capacity": 20,
        "waitlist_enabled": "on",
        **extra,
    }


def test_typing_19_00_for_a_shanghai_venue_stores_11_00_utc(planned):
    day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=40)).date()
    client = client_for(planned["organizer"])
    response = client.post(
        f"/plan/{planned['series'].id}/sessions/new/", _form(planned["venue"], day, "19:00", "21:00", save="1")
    )
    assert response.status_code == 302, response.content.decode()[-2000:]
    created = Session.objects.get(title="Light over the Yi river")
    assert created.starts_at == dt.datetime.combine(day, dt.time(11, 0), tzinfo=dt.UTC)
    assert created.ends_at == dt.datetime.combine(day, dt.time(13, 0), tzinfo=dt.UTC)
    assert created.status == Session.Status.DRAFT
    page = client.get(f"/plan/sessions/{created.id}/").content.decode()
    assert 'value="19:00"' in page and "Beijing time (UTC+8)" in page


def test_an_end_before_the_start_is_the_next_day(planned):
    day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=41)).date()
    client_for(planned["organizer"]).post(
        f"/plan/{planned['series'].id}/sessions/new/", _form(planned["venue"], day, "22:30", "01:00", save="1")
    )
    created = Session.objects.get(title="Light over the Yi river")
    assert created.ends_at - created.starts_at == dt.timedelta(hours=2, minutes=30)


def test_a_conflicting_move_is_explained_once_in_local_time_and_saves_nothing(planned):
    session = planned["session"]
    other_start = session.starts_at + dt.timedelta(days=1)
    other = SessionFactory(
        series=planned["series"],
        venue=planned["venue"],
        title="Other talk",
        starts_at=other_start,
        ends_at=other_start + dt.timedelta(hours=2),
    )
    local = other.starts_at.astimezone(SHANGHAI)
    before = (session.starts_at, session.sequence)
    data = _form(planned["venue"], local.date(), f"{local:%H:%M}", f"{local + dt.timedelta(hours=1):%H:%M}")
    data["title"] = session.title
    for button in ("check", "save"):
        response = client_for(planned["organizer"]).post(f"/plan/sessions/{session.id}/", {**data, button: "1"})
        assert response.status_code == 200
        body = response.content.decode()
        assert "Not saved: 1 conflict." in body
        assert body.count("is booked by") == 1
        assert f"“Other talk” ({local:%a} {local.day} {local:%b} {local.year}, {local:%H:%M}" in body
        session.refresh_from_db()
        assert (session.starts_at, session.sequence) == before


def test_check_without_conflict_saves_nothing_and_says_so(planned):
    session = planned["session"]
    local = session.starts_at.astimezone(SHANGHAI) + dt.timedelta(days=3)
    data = {**_form(planned["venue"], local.date(), "20:00", "22:00"), "title": session.title, "check": "1"}
    body = client_for(planned["organizer"]).post(f"/plan/sessions/{session.id}/", data).content.decode()
    assert "No conflicts. Nothing is saved until you press Save." in body
    session.refresh_from_db()
    assert session.starts_at.astimezone(SHANGHAI).date() != local.date()


def test_a_move_from_the_board_is_recorded_and_bumps_the_calendar_sequence(planned):
    session = planned["session"]
    old_start = session.starts_at
    local = session.starts_at.astimezone(SHANGHAI) + dt.timedelta(days=2)
    data = {**_form(planned["venue"], local.date(), "20:00", "22:00"), "title": session.title, "save": "1"}
    assert client_for(planned["organizer"]).post(f"/plan/sessions/{session.id}/", data).status_code == 302
    session.refresh_from_db()
    assert session.sequence == 1
    assert session.moved_at is not None and session.moved_from_starts_at == old_start


def test_publish_and_cancel_with_a_reason_from_the_workspace(planned):
    session = planned["session"]
    session.status = Session.Status.DRAFT
    session.save(update_fields=["status"])
    client = client_for(planned["organizer"])
    assert client.post(f"/plan/sessions/{session.id}/publish/").status_code == 302
    session.refresh_from_db()
    assert session.status == Session.Status.PUBLISHED
    empty = client.post(f"/plan/sessions/{session.id}/cancel/", {"reason": " "})
    assert empty.status_code == 200
    session.refresh_from_db()
    assert session.status == Session.Status.PUBLISHED
    assert client.post(f"/plan/sessions/{session.id}/cancel/", {"reason": "Storm warning"}).status_code == 302
    session.refresh_from_db()
    assert (session.status, session.cancel_reason) == (Session.Status.CANCELLED, "Storm warning")


def test_the_session_form_offers_the_organizations_hosts_by_name_and_venues_by_city(planned):
    organization = planned["series"].organization
    host_of(organization, first_name="Lei", last_name="Wang")
    host_of(OrganizationFactory(), first_name="Outside", last_name="Person")
    body = client_for(planned["organizer"]).get(f"/plan/{planned['series'].id}/sessions/new/").content.decode()
    assert "Lei Wang" in body and "Outside Person" not in body
    assert f'data-city="{planned["venue"].city_id}"' in body
    assert 'data-zone="Beijing time (UTC+8)"' in body


def test_other_organizers_cannot_open_the_forms(planned):
    stranger = organizer_of(OrganizationFactory())
    client = client_for(stranger)
    assert client.get(f"/plan/{planned['series'].id}/sessions/new/").status_code == 404
    assert client.get(f"/plan/sessions/{planned['session'].id}/").status_code == 404
    assert client.post(f"/plan/sessions/{planned['session'].id}/cancel/", {"reason": "x"}).status_code == 404


# --- Fans see the truth ------------------------------------------------------------------------


def test_a_cancelled_session_page_says_why_and_offers_nothing_to_do():
    session = SessionFactory(status=Session.Status.CANCELLED, cancel_reason="Typhoon warning for the coast")
    registration = RegistrationFactory(session=session)
    for client in (client_for(None), client_for(registration.fan)):
        body = client.get(f"/sessions/{session.id}/").content.decode()
        assert "This session is cancelled." in body and "Typhoon warning for the coast" in body
        for offer in (
            "You're registered",
            "seats left",
            "Add to calendar",
            "Google Calendar",
            'data-action="register"',
        ):
            assert offer not in body, offer


def test_a_moved_session_says_moved_from_for_a_while(planned):
    from events import services as event_services

    session = planned["session"]
    old = session.starts_at.astimezone(SHANGHAI)
    event_services.session_update(
        session=session,
        data={"starts_at": session.starts_at + dt.timedelta(days=1), "ends_at": session.ends_at + dt.timedelta(days=1)},
    )
    body = client_for(None).get(f"/sessions/{session.id}/").content.decode()
    assert "This session has moved." in body
    assert f"Moved from {old:%a} {old.day} {old:%b}, {old:%H:%M}" in body and "Longmen Hall" in body
    Session.objects.filter(id=session.id).update(moved_at=session.starts_at - dt.timedelta(days=60))
    assert "This session has moved." not in client_for(None).get(f"/sessions/{session.id}/").content.decode()


def test_my_sessions_are_split_into_upcoming_past_and_cancelled():
    fan = RegistrationFactory(session__title="Coming up").fan
    RegistrationFactory(fan=fan, session__title="Called off", session__status=Session.Status.CANCELLED)
    body = client_for(fan).get("/sessions/mine/").content.decode()
    upcoming, rest = body.split("Cancelled sessions", 1)
    assert "Coming up" in upcoming and "Called off" not in upcoming
    assert "Called off" in rest


# --- Host home, stream status, roster, figures -------------------------------------------------


def test_a_host_lands_on_the_sessions_they_host_with_dashboard_roster_and_check_in_links():
    from tests.factories import StreamFactory

    organization = OrganizationFactory()
    host = host_of(organization, username="lei")
    session = SessionFactory(series__organization=organization, hosts=[host], kind=Session.Kind.LIVESTREAM)
    stream = StreamFactory(session=session)
    SessionFactory(series__organization=organization, title="Not mine")
    client = Client()
    response = client.post("/accounts/login/", {"username": "lei", "password": "correct-horse-battery"})
    assert response.status_code == 302 and response["Location"] == "/host/"
    body = client.get("/host/").content.decode()
    assert session.title in body and "Not mine" not in body
    for link in (f"/streams/{stream.id}/host/", f"/plan/sessions/{session.id}/roster/", f"/door/{session.id}/"):
        assert f'href="{link}"' in body
    assert 'href="/host/"' in body  # in the navigation


def test_hosts_set_the_stream_status_and_every_page_shows_the_same(settings):
    from streams.models import Stream
    from tests.factories import StreamFactory

    organization = OrganizationFactory()
    host = host_of(organization)
    session = SessionFactory(series__organization=organization, hosts=[host], kind=Session.Kind.LIVESTREAM)
    stream = StreamFactory(session=session)
    stream.hosts.add(host)
    client = client_for(host)
    client.post(f"/host/streams/{stream.id}/status/", {"status": "live"})
    assert Stream.objects.get(id=stream.id).status == "live"
    for path in ("/host/", f"/streams/{stream.id}/", f"/streams/{stream.id}/host/", f"/sessions/{session.id}/"):
        assert "stream-live" in client.get(path).content.decode() or "Live" in client.get(path).content.decode(), path
    client.post(f"/host/streams/{stream.id}/status/", {"status": "ended"})
    assert Stream.objects.get(id=stream.id).status == "ended"
    fan = client_for(UserFactory())
    assert fan.post(f"/host/streams/{stream.id}/status/", {"status": "live"}).status_code in (403, 404)
    assert Stream.objects.get(id=stream.id).status == "ended"


def test_the_roster_lists_confirmed_waitlist_in_order_check_ins_and_codes_and_exports_csv():
    from registrations import services as registration_services
    from registrations.models import PriorityCode

    organization = OrganizationFactory()
    host = host_of(organization)
    session = SessionFactory(series__organization=organization, hosts=[host], capacity=1)
    code = PriorityCode.objects.create(organization=organization, code="VIPCODE1", session=session, max_uses=5)
    first = registration_services.registration_create(
        session=session, fan=UserFactory(first_name="=cmd", last_name="Lin"), priority_code="VIPCODE1"
    )
    second = registration_services.registration_create(session=session, fan=UserFactory(username="waiting-1"))
    third = registration_services.registration_create(session=session, fan=UserFactory(username="waiting-2"))
    registration_services.registration_check_in(session=session, checkin_code=first.checkin_code, by=host)
    client = client_for(host)
    body = client.get(f"/plan/sessions/{session.id}/roster/").content.decode()
    assert "1 of 1 confirmed fans checked in" in body and code.code in body
    assert body.index("waiting-1") < body.index("waiting-2")
    csv_text = client.get(f"/plan/sessions/{session.id}/roster.csv").content.decode("utf-8-sig")
    lines = csv_text.splitlines()
    assert lines[0].startswith("status,waitlist_position,name")
    assert lines[1].startswith("confirmed,,'=cmd Lin,")  # no formula for a spreadsheet to run
    assert "VIPCODE1" in lines[1]
    assert [line.split(",")[1] for line in lines[2:]] == ["1", "2"]
    assert second.id != third.id
    assert client_for(UserFactory()).get(f"/plan/sessions/{session.id}/roster.csv").status_code == 403


def test_series_figures_show_fill_rate_per_city_and_kind_and_the_longest_waitlists(demo):
    organizer = User.objects.get(username="organizer")
    talk = Session.objects.filter(series=demo, kind="talk").first()
    Session.objects.filter(id=talk.id).update(confirmed_count=talk.capacity, waitlist_count=7)
    body = client_for(organizer).get(f"/plan/{demo.id}/figures/").content.decode()
    assert "By city" in body and "By kind" in body and "Night shoot" in body
    assert talk.title_en in body.split("Longest waitlists", 1)[1]
    assert "7 waiting" in body


# --- Month plan import -------------------------------------------------------------------------


def _plan_csv(venue, day: dt.date, *rows: str) -> bytes:
    header = "kind,title,title_en,city,venue,date,start,end,hosts,capacity,description\n"
    return (
        "\ufeff" + header + "".join(r.format(city=venue.city.name, venue=venue.name, day=day) + "\n" for r in rows)
    ).encode()


def _upload(client, series, name: str, data: bytes, **extra):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return client.post(f"/plan/{series.id}/import/", {"file": SimpleUploadedFile(name, data), **extra})


def test_an_import_with_one_bad_row_saves_nothing_and_names_the_row(planned):
    host_of(planned["series"].organization, first_name="Lei", last_name="Wang")
    day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=50)).date()
    data = _plan_csv(
        planned["venue"],
        day,
        "talk,夜景入门,Night basics,{city},{venue},{day},19:00,21:00,Lei Wang,20,",
        "talk,Second,,{city},{venue},{day},9:61,21:00,,20,",
    )
    client = client_for(planned["organizer"])
    before = Session.objects.count()
    body = _upload(client, planned["series"], "plan.csv", data).content.decode()
    assert "Nothing was saved." in body
    assert 'id="row-3" class' not in body and 'class="bad-row" id="row-3"' in body
    assert "“9:61” is not a time like 19:30." in body
    assert "Apply the whole plan" not in body
    assert client.post(f"/plan/{planned['series'].id}/import/", {"apply": "1"}).status_code == 302
    assert Session.objects.count() == before


def test_an_import_explains_conflicts_with_spreadsheet_row_numbers(planned):
    day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=51)).date()
    data = _plan_csv(
        planned["venue"],
        day,
        "talk,First,,{city},{venue},{day},19:00,21:00,,20,",
        "talk,Second,,{city},{venue},{day},20:00,22:00,,20,",
    )
    body = _upload(client_for(planned["organizer"]), planned["series"], "plan.csv", data).content.decode()
    assert "is booked by row 3 “Second”" in body and "is booked by row 2 “First”" in body
    assert f"{day.day} " in body and "20:00–22:00" in body


def test_an_xlsx_plan_previews_then_applies_all_rows_as_drafts_in_local_time(planned):
    from openpyxl import Workbook

    day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=52)).date()
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["kind", "title", "city", "venue", "date", "start", "end", "capacity"])
    venue = planned["venue"]
    sheet.append(["讲座", "Excel talk", "洛阳", venue.name, day, dt.time(19, 0), dt.time(21, 0), 25])
    sheet.append(["night_shoot", "Excel shoot", "Luoyang", venue.name, day.isoformat(), "22:30", "01:00", 15])
    out = __import__("io").BytesIO()
    workbook.save(out)
    client = client_for(planned["organizer"])
    body = _upload(client, planned["series"], "plan.xlsx", out.getvalue()).content.decode()
    assert "All 2 rows are ready, with no conflict." in body, body[-3000:]
    assert not Session.objects.filter(title__startswith="Excel").exists()
    assert client.post(f"/plan/{planned['series'].id}/import/", {"apply": "1"}).status_code == 302
    talk = Session.objects.get(title="Excel talk")
    assert talk.status == Session.Status.DRAFT
    assert talk.starts_at == dt.datetime.combine(day, dt.time(11, 0), tzinfo=dt.UTC)
    shoot = Session.objects.get(title="Excel shoot")
    assert shoot.ends_at - shoot.starts_at == dt.timedelta(hours=2, minutes=30)


def test_the_plan_templates_download_as_csv_and_xlsx(planned):
    client = client_for(planned["organizer"])
    csv_response = client.get(f"/plan/{planned['series'].id}/import/template.csv")
    assert csv_response.content.decode("utf-8-sig").startswith("kind,title,title_en,city,venue,date")
    xlsx = client.get(f"/plan/{planned['series'].id}/import/template.xlsx")
    assert xlsx.content[:2] == b"PK"
    assert client_for(UserFactory()).get(f"/plan/{planned['series'].id}/import/template.csv").status_code == 404


def test_a_file_that_is_not_a_plan_is_refused_clearly(planned):
    client = client_for(planned["organizer"])
    body = _upload(client, planned["series"], "plan.xlsx", b"not a workbook").content.decode()
    assert "This is not an .xlsx workbook Aperture can read." in body
    body = _upload(client, planned["series"], "plan.csv", b"name,when\nx,y\n").content.decode()
    assert "The header row must name the template&#x27;s columns" in body


# --- SITE_URL unset: links follow the request's address ----------------------------------------


def test_without_site_url_absolute_links_follow_the_address_the_request_came_to(settings):
    settings.SITE_URL = ""
    registration = RegistrationFactory()
    client = client_for(registration.fan)
    feed = client.get("/api/me/calendar-feed/", HTTP_HOST="127.0.0.1:8101").json()["url"]
    assert feed.startswith("http://127.0.0.1:8101/calendar/feed/")
    page = client.get(f"/sessions/{registration.session_id}/", HTTP_HOST="localhost:8102").content.decode()
    assert "http%3A//localhost%3A8102/sessions/" in page or "http://localhost:8102/sessions/" in page
    ics = Client().get(f"/api/sessions/{registration.session_id}/calendar.ics", HTTP_HOST="localhost:8103")
    text = ics.content.decode()
    assert "http://localhost:8103/sessions/" in text.replace("\r\n ", "")
    assert "UID:session-" in text and "@127.0.0.1" in text  # the UID never follows the address


def test_a_worker_without_a_request_links_to_the_last_address_a_web_process_saw(settings):
    from project.site import site_url

    settings.SITE_URL = ""
    Client().get("/", HTTP_HOST="localhost:8104")
    assert site_url() == "http://localhost:8104"
    settings.SITE_URL = "https://aperture.example"
    assert site_url() == "https://aperture.example"


def test_fans_hear_of_a_move_and_a_cancellation_from_the_workspace_as_through_the_api(planned):
    """The same services, the same notices: one 'moved' and one 'cancelled' per registered fan."""
    from notices.models import Notice

    session = planned["session"]
    fan = RegistrationFactory(session=session).fan
    local = session.starts_at.astimezone(SHANGHAI) + dt.timedelta(days=2)
    data = {**_form(planned["venue"], local.date(), "20:00", "22:00"), "title": session.title, "save": "1"}
    client = client_for(planned["organizer"])
    assert client.post(f"/plan/sessions/{session.id}/", data).status_code == 302
    assert client.post(f"/plan/sessions/{session.id}/cancel/", {"reason": "Storm warning"}).status_code == 302
    kinds = sorted(Notice.objects.filter(recipient=fan, session=session).values_list("kind", flat=True))
    assert kinds == ["cancelled", "moved"]
    assert "Storm warning" in Notice.objects.get(recipient=fan, kind="cancelled").body


def test_organizers_see_and_set_the_stream_status_from_the_board_and_the_session_page(demo):
    from streams.models import Stream

    organizer = User.objects.get(username="organizer")
    stream = Stream.objects.get(session__series=demo)
    client = client_for(organizer)
    assert 'class="badge stream-scheduled"' in client.get(f"/plan/{demo.id}/").content.decode()
    page = client.get(f"/plan/sessions/{stream.session_id}/").content.decode()
    assert f'action="/host/streams/{stream.id}/status/"' in page
    client.post(
        f"/host/streams/{stream.id}/status/", {"status": "live", "next": f"/plan/sessions/{stream.session_id}/"}
    )
    assert Stream.objects.get(id=stream.id).status == "live"
    assert 'data-stream-status="live"' in client.get(f"/plan/sessions/{stream.session_id}/").content.decode()
    assert 'class="badge stream-live"' in client.get(f"/plan/{demo.id}/").content.decode()
