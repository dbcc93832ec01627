"""Fans in control: their notices on the site, read marking, email preferences and a one-click
unsubscribe (RFC 8058) carried by every optional email, through a real SMTP server."""

import datetime as dt
import urllib.parse

import pytest
from django.test import Client

from events import services as planning
from notices.models import Notice, Preferences
from notices.reminders import reminders_send
from notices.services import Outgoing, notices_queue
from registrations import services as seats
from tests.conftest import client_for
from tests.factories import SessionFactory, UserFactory, organizer_of
from tests.smtp_sink import SmtpSink

pytestmark = pytest.mark.django_db


def notices_for(fan, count, kind=Notice.Kind.MESSAGE):
    return notices_queue(
        kind=kind, outgoing=[Outgoing(recipient=fan, subject=f"Subject {n}", body="Body") for n in range(count)]
    )


def test_my_notifications_lists_my_notices_newest_first_in_the_contracts_shape(django_assert_num_queries):
    fan, other = UserFactory(), UserFactory()
    session = SessionFactory(capacity=1)
    seats.registration_create(session=session, fan=fan)
    planning.session_cancel(session=session, reason="Rain")
    notices_for(fan, 3)
    notices_for(other, 2)
    client = client_for(fan)
    with django_assert_num_queries(2):  # count + page, whatever the page size
        response = client.get("/api/me/notifications/")
    body = response.json()
    assert response.status_code == 200 and body["count"] == 4
    first = body["results"][-1]
    assert set(first) == {"id", "kind", "subject", "body", "session", "created_at", "read_at"}
    assert (first["kind"], first["session"], first["read_at"]) == ("cancelled", session.id, None)
    assert [row["subject"] for row in body["results"][:3]] == ["Subject 2", "Subject 1", "Subject 0"]


def test_marking_read_by_id_or_all_touches_only_my_notices():
    fan, other = UserFactory(), UserFactory()
    mine = notices_for(fan, 3)
    theirs = notices_for(other, 1)
    client = client_for(fan)
    response = client.post("/api/me/notifications/read/", {"ids": [mine[0].id, theirs[0].id]}, format="json")
    assert response.status_code == 204
    assert Notice.objects.filter(read_at__isnull=False).count() == 1
    assert client.post("/api/me/notifications/read/", {}, format="json").status_code == 204
    assert Notice.objects.filter(recipient=fan, read_at__isnull=True).count() == 0
    assert Notice.objects.get(id=theirs[0].id).read_at is None
    bad = client.post("/api/me/notifications/read/", {"ids": ["x"]}, format="json")
    assert bad.status_code == 400


def test_preferences_default_on_and_patch_changes_only_what_is_sent():
    fan = UserFactory()
    client = client_for(fan)
    assert client.get("/api/me/preferences/").json() == {"email_reminders": True, "email_messages": True}
    response = client.patch("/api/me/preferences/", {"email_messages": False}, format="json")
    assert response.json() == {"email_reminders": True, "email_messages": False}
    assert client.patch("/api/me/preferences/", {"email_messages": "perhaps"}, format="json").status_code == 400
    assert client.get("/api/me/preferences/").json() == {"email_reminders": True, "email_messages": False}
    assert client_for(None).get("/api/me/preferences/").status_code in (401, 403)


def test_a_fan_who_turned_a_kind_off_sees_it_on_the_site_but_seat_notices_are_always_emailed(run_jobs, mailoutbox):
    fan = UserFactory()
    Preferences.objects.create(user=fan, email_messages=False, email_reminders=False)
    session = SessionFactory(capacity=1, starts_at=SessionFactory.starts_at.function() + dt.timedelta(days=1))
    seats.registration_create(session=session, fan=fan)
    (message,) = notices_for(fan, 1)
    reminders_send(session_id=session.id, hours=24, sequence=0)
    planning.session_cancel(session=session, reason="Rain", by=organizer_of(session.series.organization))
    run_jobs()
    kinds = dict(Notice.objects.filter(recipient=fan).values_list("kind", "delivery"))
    assert kinds == {"message": "skipped", "reminder": "skipped", "cancelled": "sent"}
    assert [m.subject for m in mailoutbox] == [f"Cancelled: {session.title}"]
    assert "List-Unsubscribe" not in mailoutbox[0].extra_headers  # a seat notice cannot be turned off


def test_optional_emails_carry_a_one_click_unsubscribe_that_works_without_a_session_or_csrf(settings, run_jobs):
    fan = UserFactory()
    with SmtpSink() as sink:
        for name, value in sink.settings().items():
            setattr(settings, name, value)
        notices_for(fan, 1)
        run_jobs()
    (received,) = sink.messages
    assert received.headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    url = received.headers["List-Unsubscribe"].strip().strip("<>")
    assert url in received.body
    path = urllib.parse.urlparse(url).path
    browser = Client(enforce_csrf_checks=True)
    assert browser.get(path).status_code == 200  # a link checker opening it changes nothing
    assert Preferences.objects.filter(user=fan, email_messages=False).count() == 0
    response = browser.post(path, "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert Preferences.objects.get(user=fan).email_messages is False
    assert Preferences.objects.get(user=fan).email_reminders is True
    assert browser.post(path[:-5] + "xxxx/").status_code == 404  # a damaged token


def test_notices_speak_the_recipients_language_with_local_time_venue_and_links(run_jobs, mailoutbox):
    session = SessionFactory(capacity=2, title="Star trails", title_zh_hans="星轨")
    chinese = seats.registration_create(session=session, fan=UserFactory(language="zh-hans")).fan
    planning.session_cancel(session=session, reason="Rain", by=organizer_of(session.series.organization))
    run_jobs()
    (message,) = mailoutbox
    assert message.to == [chinese.email] and message.subject == "已取消：星轨"
    assert "北京时间（UTC+8）" in message.body and session.venue.name in message.body
    assert f"/sessions/{session.id}/" in message.body and f"/api/sessions/{session.id}/calendar.ics" in message.body
