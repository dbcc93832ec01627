"""Organizer messages: preview, send, progress and recipients (API.md, "Notices")."""

import pytest
from django_tasks_db.models import DBTaskResult

from notices.models import Notice
from registrations import services as seats
from tests.conftest import client_for
from tests.factories import (
    CityFactory,
    SeriesFactory,
    SessionFactory,
    UserFactory,
    VenueFactory,
    organizer_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def plan():
    """A series with two sessions in Luoyang and one in Chengdu; fans registered across them."""
    series = SeriesFactory()
    organization = series.organization
    luoyang = CityFactory(organization=organization, name="Luoyang")
    chengdu = CityFactory(organization=organization, name="Chengdu")
    grotto = SessionFactory(series=series, venue=VenueFactory(city=luoyang), capacity=2)
    bridge = SessionFactory(series=series, venue=VenueFactory(city=luoyang), capacity=5)
    teahouse = SessionFactory(series=series, venue=VenueFactory(city=chengdu), capacity=5)
    fans = UserFactory.create_batch(5)
    for fan in fans[:3]:
        seats.registration_create(session=grotto, fan=fan)  # 2 confirmed, fans[2] waitlisted
    seats.registration_create(session=bridge, fan=fans[0])  # fans[0] twice in Luoyang
    seats.registration_create(session=bridge, fan=fans[3])
    seats.registration_create(session=teahouse, fan=fans[4])
    return {
        "series": series,
        "luoyang": luoyang,
        "grotto": grotto,
        "teahouse": teahouse,
        "fans": fans,
        "organizer": organizer_of(organization),
    }


def preview(client, **body):
    return client.post(
        "/api/messages/?dry_run=true", {"subject": "Hi", "body": "Bring a tripod.", **body}, format="json"
    )


@pytest.mark.parametrize(
    ("target", "audience", "expected"),
    [
        ({"session": "grotto"}, "confirmed", 2),
        ({"session": "grotto"}, "waitlisted", 1),
        ({"session": "grotto"}, "all", 3),
        ({"city": "luoyang"}, "all", 4),  # fans[0] registered twice: counted once
        ({"series": "series", "city": "luoyang"}, "confirmed", 3),
        ({"series": "series"}, "all", 5),
    ],
)
def test_preview_counts_each_recipient_once_and_sends_nothing(plan, target, audience, expected, mailoutbox):
    body = {key: plan[value].id for key, value in target.items()}
    response = preview(client_for(plan["organizer"]), audience=audience, **body)
    assert response.status_code == 200, response.json()
    assert response.json() == {"recipients": expected}
    assert Notice.objects.count() == 0 and DBTaskResult.objects.count() == 0


def test_sending_queues_one_notice_per_recipient_and_the_worker_delivers_them(plan, run_jobs, mailoutbox):
    client = client_for(plan["organizer"])
    response = client.post(
        "/api/messages/",
        {"subject": "Tripods", "body": "Bring a tripod.", "audience": "all", "city": plan["luoyang"].id},
        format="json",
    )
    assert response.status_code == 202, response.json()
    accepted = response.json()
    assert accepted["recipients"] == 4 and accepted["status"] == "queued"
    assert mailoutbox == [] and Notice.objects.count() == 0  # the workers write and send them
    progress = client.get(f"/api/messages/{accepted['id']}/").json()
    assert progress == {
        "id": accepted["id"],
        "recipients": 4,
        "queued": 4,
        "sent": 0,
        "failed": 0,
        "skipped": 0,
        "status": "queued",
    }
    run_jobs()
    progress = client.get(f"/api/messages/{accepted['id']}/").json()
    assert (progress["queued"], progress["sent"], progress["status"]) == (0, 4, "sent")
    assert sorted(m.to[0] for m in mailoutbox) == sorted(f.email for f in plan["fans"][:4])
    assert all(m.subject == "Tripods" and m.body.startswith("Bring a tripod.") for m in mailoutbox)
    assert "registered fan of Luoyang" in mailoutbox[0].body
    recipients = client.get(f"/api/messages/{accepted['id']}/recipients/").json()
    assert recipients["count"] == 4
    assert {row["delivery"] for row in recipients["results"]} == {"sent"}
    assert {row["username"] for row in recipients["results"]} == {f.username for f in plan["fans"][:4]}


def test_a_fan_out_job_that_runs_twice_writes_each_notice_once(plan, run_jobs):
    client = client_for(plan["organizer"])
    message = client.post(
        "/api/messages/",
        {"subject": "Hi", "body": "Hello", "audience": "all", "series": plan["series"].id},
        format="json",
    ).json()
    (job,) = DBTaskResult.objects.filter(task_path="notices.tasks.fan_out_message")
    run_jobs()
    DBTaskResult.objects.filter(id=job.id).update(status="READY")  # as if its worker died after committing
    run_jobs()
    assert Notice.objects.filter(message_id=message["id"]).count() == 5


def test_a_failed_delivery_shows_in_the_progress_until_it_is_retried(plan, run_jobs, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens: connection refused
    client = client_for(plan["organizer"])
    message = client.post(
        "/api/messages/",
        {"subject": "Hi", "body": "Hello", "audience": "confirmed", "session": plan["teahouse"].id},
        format="json",
    ).json()
    run_jobs()
    progress = client.get(f"/api/messages/{message['id']}/").json()
    assert (progress["failed"], progress["sent"], progress["status"]) == (1, 0, "sending")
    (row,) = client.get(f"/api/messages/{message['id']}/recipients/").json()["results"]
    assert row["delivery"] == "failed" and "refused" in row["last_error"].lower()


def test_only_the_organizations_organizers_may_write_or_read_progress(plan, run_jobs):
    outsider = organizer_of(SeriesFactory().organization)
    response = client_for(outsider).post(
        "/api/messages/", {"subject": "Hi", "body": "x", "audience": "all", "series": plan["series"].id}, format="json"
    )
    assert response.status_code == 403 and response.json()["code"] == "permission_denied"
    fan = client_for(plan["fans"][0])
    assert preview(fan, audience="all", series=plan["series"].id).status_code == 403
    message = client_for(plan["organizer"]).post(
        "/api/messages/", {"subject": "Hi", "body": "x", "audience": "all", "series": plan["series"].id}, format="json"
    )
    assert client_for(outsider).get(f"/api/messages/{message.json()['id']}/").status_code == 404
    assert client_for(outsider).get(f"/api/messages/{message.json()['id']}/recipients/").status_code == 404
    run_jobs()
    assert Notice.objects.count() == 5


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"subject": "Hi", "body": "x", "audience": "everyone", "series": 1}, "audience"),
        ({"subject": "", "body": "x", "audience": "all", "series": 1}, "subject"),
        ({"subject": "Hi", "body": "x", "audience": "all"}, "session"),
        ({"subject": "Hi", "body": "x", "audience": "all", "session": 1, "series": 1}, "session"),
        ({"subject": "Hi", "body": "x", "audience": "all", "session": 99999999}, "session"),
        ({"subject": "Hi", "body": "x", "audience": "all", "city": "Luoyang"}, "city"),
    ],
)
def test_bad_input_is_a_400_that_sends_nothing(plan, body, field):
    response = client_for(plan["organizer"]).post("/api/messages/", body, format="json")
    assert response.status_code == 400, response.json()
    assert field in response.json()["fields"]
    assert Notice.objects.count() == 0
