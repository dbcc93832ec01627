"""POST /api/series/{id}/plan/: a whole month in one request, all or nothing."""

import datetime as dt

import pytest

from events.models import Session
from tests.conftest import client_for
from tests.events.conftest import evening
from tests.factories import SessionFactory, host_of

pytestmark = pytest.mark.django_db

BEIJING_TZ = dt.timezone(dt.timedelta(hours=8))


def iso(moment: dt.datetime) -> str:
    return moment.astimezone(BEIJING_TZ).isoformat()


def row(venue, *, days: int, hour: int = 19, kind: str = "talk", hosts=(), hours: float = 1.5, **extra) -> dict:
    start = evening(days=days, hour_local=hour)
    return {
        "kind": kind,
        "title": f"{kind} on day {days}",
        "venue": venue.id,
        "hosts": [h.id for h in hosts],
        "starts_at": iso(start),
        "ends_at": iso(start + dt.timedelta(hours=hours)),
        "capacity": 20,
    } | extra


@pytest.fixture
def plan_url(series):
    return f"/api/series/{series.id}/plan/"


def test_plan_creates_every_session_as_a_draft(plan_url, series, hall, grottoes, organization, organizer):
    photographer = host_of(organization)
    rows = [row(hall, days=d, hosts=[photographer]) for d in range(10, 15)]
    rows.append(row(grottoes, days=16, hour=21, kind="night_shoot", hosts=[photographer]))
    response = client_for(organizer).post(plan_url, rows, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["created"] == body["count"] == 6
    assert all(s["id"] for s in body["sessions"])
    sessions = Session.objects.filter(series=series)
    assert sessions.count() == 6
    assert set(sessions.values_list("status", flat=True)) == {"draft"}
    assert all(list(s.hosts.all()) == [photographer] for s in sessions)
    assert sessions.get(kind="night_shoot").timezone == grottoes.timezone


def test_dry_run_validates_and_writes_nothing(plan_url, hall, organizer):
    response = client_for(organizer).post(f"{plan_url}?dry_run=true", [row(hall, days=10)], format="json")
    assert response.status_code == 200
    body = response.json()
    assert body["dry_run"] is True
    assert body["created"] == 0
    assert body["count"] == 1
    assert body["sessions"][0]["id"] is None
    assert body["sessions"][0]["starts_at"].endswith("+08:00")
    assert not Session.objects.exists()


def test_one_bad_row_saves_nothing_and_every_bad_row_is_named(plan_url, hall, organizer):
    rows = [row(hall, days=d) for d in range(10, 20)]
    rows[2]["ends_at"] = rows[2]["starts_at"]
    rows[5]["capacity"] = 10_000
    rows[7]["starts_at"] = "2027-01-01T19:00:00"  # no offset
    rows[8]["venue"] = 999_999
    del rows[9]["title"]
    response = client_for(organizer).post(plan_url, rows, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body["rows"]) == {"2", "5", "7", "8", "9"}
    assert "ends_at" in body["rows"]["2"]
    assert "capacity" in body["rows"]["5"]
    assert "starts_at" in body["rows"]["7"]
    assert "venue" in body["rows"]["8"]
    assert "title" in body["rows"]["9"]
    assert body["fields"]["rows"] == body["rows"]
    assert body["code"] == "invalid"
    assert not Session.objects.exists()


def test_conflicts_within_the_plan_name_both_rows(plan_url, hall, organizer):
    rows = [row(hall, days=10), row(hall, days=11), row(hall, days=10, hour=20)]
    response = client_for(organizer).post(plan_url, rows, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "conflict"
    assert set(body["rows"]) == {"0", "2"}
    assert "row 2" in body["rows"]["0"]["venue"][0]
    assert body["conflicts"]["0"][0]["other"]["row"] == 2
    assert not Session.objects.exists()


def test_conflicts_with_saved_sessions_count(plan_url, series, hall, grottoes, gallery, organization, organizer):
    photographer = host_of(organization)
    booked = SessionFactory(series=series, venue=hall, starts_at=evening(days=10, hour_local=19))
    flown = SessionFactory(
        series=series, venue=gallery, hosts=[photographer], starts_at=evening(days=12, hour_local=14)
    )
    rows = [
        row(hall, days=10, hour=20),  # venue
        row(hall, days=12, hour=18, hosts=[photographer]),  # travel from Beijing (ends 16:00)
        row(grottoes, days=13, hour=15, kind="night_shoot"),  # daylight
        row(hall, days=14),  # fine
    ]
    response = client_for(organizer).post(plan_url, rows, format="json")
    assert response.status_code == 400
    body = response.json()
    assert set(body["rows"]) == {"0", "1", "2"}
    kinds = {index: {c["kind"] for c in items} for index, items in body["conflicts"].items()}
    assert kinds == {"0": {"venue_double_booked"}, "1": {"host_travel"}, "2": {"night_shoot_before_dusk"}}
    assert body["conflicts"]["0"][0]["session"] == booked.id
    assert body["conflicts"]["1"][0]["session"] == flown.id
    assert body["conflicts"]["2"][0]["dusk"]
    assert Session.objects.count() == 2


def test_cancelled_sessions_do_not_block_a_plan(plan_url, series, hall, organizer):
    SessionFactory(series=series, venue=hall, starts_at=evening(days=10), status=Session.Status.CANCELLED)
    response = client_for(organizer).post(plan_url, [row(hall, days=10, hour=20)], format="json")
    assert response.status_code == 201


CSV = """kind,title,venue,hosts,starts_at,ends_at,capacity,waitlist_enabled
talk,Light after dark,{hall},{hosts},{s1},{e1},30,true
night_shoot,Grottoes by night,{grottoes},,{s2},{e2},20,no
"""


def csv_body(hall, grottoes, hosts) -> str:
    s1, s2 = evening(days=10), evening(days=11, hour_local=21)
    return CSV.format(
        hall=hall.id,
        grottoes=grottoes.id,
        hosts=";".join(str(h.id) for h in hosts),
        s1=iso(s1),
        e1=iso(s1 + dt.timedelta(hours=2)),
        s2=iso(s2),
        e2=iso(s2 + dt.timedelta(hours=2)),
    )


def test_plan_from_a_csv_upload(plan_url, series, hall, grottoes, organization, organizer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    hosts = [host_of(organization), host_of(organization)]
    upload = SimpleUploadedFile("plan.csv", csv_body(hall, grottoes, hosts).encode("utf-8-sig"), "text/csv")
    response = client_for(organizer).post(plan_url, {"file": upload}, format="multipart")
    assert response.status_code == 201, response.json()
    talk = Session.objects.get(series=series, kind="talk")
    assert set(talk.hosts.all()) == set(hosts)
    assert Session.objects.get(series=series, kind="night_shoot").waitlist_enabled is False


def test_plan_from_a_text_csv_body(plan_url, hall, grottoes, organizer):
    response = client_for(organizer).post(
        f"{plan_url}?dry_run=1", csv_body(hall, grottoes, []), content_type="text/csv"
    )
    assert response.status_code == 200, response.json()
    assert response.json()["count"] == 2


def test_csv_errors_name_the_row_and_field(plan_url, hall, grottoes, organizer):
    text = csv_body(hall, grottoes, []).replace(",20,no", ",abc,no")
    response = client_for(organizer).post(plan_url, text, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["rows"] == {"1": {"capacity": ["A valid integer is required."]}}


def test_csv_with_unknown_columns_is_refused(plan_url, organizer):
    response = client_for(organizer).post(plan_url, "title,start\nX,Y\n", content_type="text/csv")
    assert response.status_code == 400
    assert "start" in response.json()["fields"]["file"][0]


def test_unknown_fields_in_json_rows_are_named(plan_url, hall, organizer):
    response = client_for(organizer).post(plan_url, [row(hall, days=10, start="x")], format="json")
    assert response.status_code == 400
    assert response.json()["rows"] == {"0": {"start": ["Unknown field."]}}


@pytest.mark.parametrize("body", [[], {"x": 1}, ["not a row"]])
def test_malformed_plans_are_400(plan_url, organizer, body):
    response = client_for(organizer).post(plan_url, body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_only_organizers_of_the_series_plan(plan_url, hall, organization, fan, host):
    from tests.factories import OrganizationFactory, organizer_of

    rows = [row(hall, days=10)]
    assert client_for(None).post(plan_url, rows, format="json").status_code == 401
    assert client_for(fan).post(plan_url, rows, format="json").status_code == 403
    assert client_for(host).post(plan_url, rows, format="json").status_code == 403
    stranger = organizer_of(OrganizationFactory())
    assert client_for(stranger).post(plan_url, rows, format="json").status_code == 403
    assert not Session.objects.exists()


def test_a_month_of_150_sessions_is_planned_in_a_bounded_number_of_queries(
    plan_url, series, organization, organizer, django_assert_max_num_queries
):
    from tests.factories import CityFactory, VenueFactory

    cities = [CityFactory(organization=organization, latitude=25 + i, longitude=100 + i) for i in range(15)]
    venues = [VenueFactory(city=c) for c in cities]
    hosts = [host_of(organization) for _ in range(15)]
    rows = [row(venues[i % 15], days=5 + i // 15, hours=1.5, hosts=[hosts[i % 15]]) for i in range(150)]
    client = client_for(organizer)
    with django_assert_max_num_queries(20):
        response = client.post(plan_url, rows, format="json")
    assert response.status_code == 201, response.json()
    assert Session.objects.filter(series=series).count() == 150


def test_bad_host_ids_in_a_csv_are_named_per_item(plan_url, hall, grottoes, organizer):
    text = csv_body(hall, grottoes, []).replace(f",{hall.id},,", f",{hall.id},12;abc,", 1)
    response = client_for(organizer).post(plan_url, text, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["rows"] == {"0": {"hosts": ["[1] A valid integer is required."]}}


def test_absurd_capacity_is_a_field_error_not_a_database_error(plan_url, luoyang, organizer):
    livestream = {"kind": "livestream", "city": luoyang.id, "title": "Live", "capacity": 10**12}
    start = evening(days=10)
    livestream |= {"starts_at": iso(start), "ends_at": iso(start + dt.timedelta(hours=1))}
    response = client_for(organizer).post(plan_url, [livestream], format="json")
    assert response.status_code == 400
    assert "capacity" in response.json()["rows"]["0"]
