"""What Aperture writes, in the reader's language (issue 11 points 1, 2 and 4): API errors (detail
and field messages; the code never changes), organizer-written texts with their translations, the
texts of calendar entries (public feeds by ?lang=, a fan's private feed in the fan's language), the
emails (in each recipient's language), and the admin's own labels."""

import datetime as dt
from urllib.parse import urlsplit

import pytest
from django.apps import apps
from django.test import Client
from django.utils.functional import Promise

from events import services as event_services
from events.models import Session
from registrations.models import Registration, checkin_code_grouped
from tests.calendars.ical import events_by_uid, parse_icalendar
from tests.conftest import token_client
from tests.factories import RegistrationFactory, SessionFactory, UserFactory, organizer_of

pytestmark = pytest.mark.django_db

ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-CN"}
EN = {"HTTP_ACCEPT_LANGUAGE": "en-US"}


def full_session() -> Session:
    return SessionFactory(capacity=1, confirmed_count=1, waitlist_enabled=False)


def test_a_business_rule_error_is_in_the_readers_language_with_the_same_code():
    session = full_session()
    url = f"/api/sessions/{session.id}/registrations/"
    chinese = token_client(UserFactory()).post(url, {}, **ZH)
    english = token_client(UserFactory()).post(url, {}, **EN)
    assert (chinese.status_code, chinese.json()["code"]) == (409, "full")
    assert (english.status_code, english.json()["code"]) == (409, "full")
    assert chinese.json()["detail"] == "本场名额已满。"
    assert english.json()["detail"] == "This session is full."


@pytest.mark.parametrize(
    ("headers", "detail"), [(EN, "This priority code is not valid for this session."), (ZH, "这个优先码不适用于本场。")]
)
def test_a_wrong_priority_code_is_refused_in_the_readers_language(headers, detail):
    """Messages are translated when they are raised, never once at import (in the default language)."""
    session = SessionFactory()
    response = token_client(UserFactory()).post(
        f"/api/sessions/{session.id}/registrations/", {"priority_code": "NOT-A-CODE"}, **headers
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_code")
    assert response.json()["detail"] == detail
    assert response.json()["fields"]["priority_code"] == [detail]


def test_serializer_field_messages_are_translated(organization):
    session = SessionFactory(series__organization=organization, venue__organization=organization)
    client = token_client(organizer_of(organization))
    naive = {"starts_at": "2030-01-01T20:00:00", "ends_at": "2030-01-01T22:00:00"}
    chinese = client.patch(f"/api/sessions/{session.id}/", naive, **ZH).json()
    english = client.patch(f"/api/sessions/{session.id}/", naive, **EN).json()
    assert chinese["fields"]["starts_at"] == ["请用带时区偏移的 ISO 8601 时间，例如 2026-12-05T19:30:00+08:00。"]
    assert english["fields"]["starts_at"] == [
        "Give the time in ISO 8601 with an offset, e.g. 2026-12-05T19:30:00+08:00."
    ]


def test_field_messages_are_translated_too(api_client):
    chinese = api_client.get("/api/sessions/", {"starts_after": "tomorrow"}, **ZH).json()
    english = api_client.get("/api/sessions/", {"starts_after": "tomorrow"}, **EN).json()
    assert chinese["code"] == english["code"] == "invalid"
    assert chinese["fields"]["starts_after"] == ["请用带时区偏移的 ISO 8601 时间。"]
    assert english["fields"]["starts_after"] == ["Give an ISO 8601 time with an offset."]


def test_drf_and_django_messages_follow_the_language_too(api_client):
    body = api_client.get("/api/me/", **ZH).json()
    assert body["code"] == "not_authenticated"
    assert body["detail"] == "身份认证信息未提供。"


def test_drfs_invalid_input_and_field_messages_are_in_the_readers_language(api_client):
    """DRF's own texts (the 400's detail, a required field, a maximum length, an email) come from
    DRF's Simplified Chinese catalogue; the code stays the same."""
    body = {"username": "x" * 151, "email": "not-an-email"}
    chinese = api_client.post("/api/auth/signup/", body, format="json", **ZH).json()
    english = api_client.post("/api/auth/signup/", body, format="json", **EN).json()
    assert chinese["code"] == english["code"] == "invalid"
    assert (chinese["detail"], english["detail"]) == ("无效的输入。", "Invalid input.")
    assert chinese["fields"] == {
        "username": ["请确保这个字段不能超过 150 个字符。"],
        "email": ["请输入合法的邮件地址。"],
        "password": ["该字段是必填项。"],
    }
    assert english["fields"] == {
        "username": ["Ensure this field has no more than 150 characters."],
        "email": ["Enter a valid email address."],
        "password": ["This field is required."],
    }


def test_a_fans_saved_chinese_decides_drfs_messages_over_the_header():
    session = SessionFactory()
    fan = UserFactory(language="zh-hans")
    body = (
        token_client(fan)
        .post(f"/api/sessions/{session.id}/registrations/", {"party_size": "two"}, format="json", **EN)
        .json()
    )
    assert body["detail"] == "无效的输入。"
    assert body["fields"] == {"party_size": ["请填写合法的整数值。"]}


@pytest.mark.site_default_language
def test_without_a_choice_drfs_messages_are_in_the_sites_default_chinese(api_client):
    body = api_client.post("/api/auth/signup/", {}, format="json").json()
    assert body["detail"] == "无效的输入。"
    assert body["fields"]["username"] == ["该字段是必填项。"]


def test_a_malformed_body_is_refused_in_the_readers_language(api_client):
    def parse_error(headers):
        response = api_client.post("/api/auth/signup/", "{bad", content_type="application/json", **headers)
        assert (response.status_code, response.json()["code"]) == (400, "parse_error")
        return response.json()["detail"]

    reason = "Expecting property name enclosed in double quotes: line 1 column 2 (char 1)"
    assert parse_error(ZH) == f"JSON 解析错误：{reason}"
    assert parse_error(EN) == f"JSON parse error - {reason}"


def test_an_unknown_path_answers_json_in_the_readers_language(api_client):
    body = api_client.get("/api/no-such-thing/", **ZH).json()
    assert body == {"detail": "未找到。", "code": "not_found", "fields": {}}


# --- organizer-written texts --------------------------------------------------------------------


def test_readers_get_the_title_in_their_language_else_the_original(api_client):
    translated = SessionFactory(title="光绘夜拍", title_en="Light painting night", description="带三脚架。")
    original_only = SessionFactory(title="龙门石窟夜游")
    english = api_client.get(f"/api/sessions/{translated.id}/", **EN).json()
    chinese = api_client.get(f"/api/sessions/{translated.id}/", **ZH).json()
    assert english["title"] == "Light painting night"
    assert chinese["title"] == "光绘夜拍"
    assert english["description"] == "带三脚架。"  # no English description: the original
    assert english["title_en"] == "Light painting night"
    assert english["title_zh_hans"] == ""
    assert api_client.get(f"/api/sessions/{original_only.id}/", **EN).json()["title"] == "龙门石窟夜游"


def test_an_english_original_with_a_chinese_translation_works_the_other_way_round(api_client):
    session = SessionFactory(title="Star trails", title_zh_hans="星轨")
    assert api_client.get(f"/api/sessions/{session.id}/", **ZH).json()["title"] == "星轨"
    assert api_client.get(f"/api/sessions/{session.id}/", **EN).json()["title"] == "Star trails"


def test_cities_and_venues_are_named_in_the_readers_language(api_client):
    session = SessionFactory(venue__name="洛阳博物馆", venue__name_en="Luoyang Museum")
    city = session.city  # name "Luoyang n", local_name 洛阳
    assert api_client.get(f"/api/cities/{city.id}/", **ZH).json()["name"] == "洛阳"
    assert api_client.get(f"/api/cities/{city.id}/", **EN).json()["name"] == city.name
    assert api_client.get(f"/api/venues/{session.venue_id}/", **EN).json()["name"] == "Luoyang Museum"
    page = Client(**EN).get(f"/sessions/{session.id}/").content.decode()
    assert "Luoyang Museum" in page
    assert "洛阳博物馆" in Client(**ZH).get(f"/sessions/{session.id}/").content.decode()


def test_organizers_write_translations_through_the_api(organization):
    organizer = organizer_of(organization)
    session = SessionFactory(series__organization=organization, venue__organization=organization)
    client = token_client(organizer)
    response = client.patch(
        f"/api/sessions/{session.id}/", {"title_en": "Night market street shoot", "description_zh_hans": "夜市扫街"}
    )
    assert response.status_code == 200, response.json()
    session.refresh_from_db()
    assert (session.title_en, session.description_zh_hans) == ("Night market street shoot", "夜市扫街")


def test_the_plan_import_takes_both_columns(organization):
    organizer = organizer_of(organization)
    existing = SessionFactory(series__organization=organization, venue__organization=organization)
    start = (existing.starts_at + dt.timedelta(days=3)).isoformat()
    end = (existing.starts_at + dt.timedelta(days=3, hours=2)).isoformat()
    csv = f"title,title_en,venue,starts_at,ends_at\n城墙夜拍,City wall night shoot,{existing.venue_id},{start},{end}\n"
    response = token_client(organizer).post(
        f"/api/series/{existing.series_id}/plan/", data=csv, content_type="text/csv"
    )
    assert response.status_code in (200, 201), response.json()
    planned = Session.objects.get(title="城墙夜拍")
    assert planned.title_en == "City wall night shoot"


# --- calendar entries ---------------------------------------------------------------------------


def cancelled_session() -> Session:
    return SessionFactory(title="星轨", title_en="Star trails", status=Session.Status.CANCELLED)


def summary_of(body: bytes) -> str:
    (event,) = events_by_uid(body).values()
    return str(event["SUMMARY"])


def test_public_feeds_take_lang(api_client):
    session = cancelled_session()
    url = f"/api/series/{session.series_id}/calendar.ics"
    assert summary_of(api_client.get(url, {"lang": "en"}).content) == "Cancelled: Star trails"
    assert summary_of(api_client.get(url, {"lang": "zh-hans"}).content) == "已取消：星轨"
    one = f"/api/sessions/{session.id}/calendar.ics"
    assert summary_of(api_client.get(one, {"lang": "zh-hans"}, **EN).content) == "已取消：星轨"


def test_a_public_feed_without_lang_speaks_the_callers_language(api_client):
    session = cancelled_session()
    url = f"/api/series/{session.series_id}/calendar.ics"
    assert summary_of(api_client.get(url, **ZH).content) == "已取消：星轨"
    assert summary_of(api_client.get(url, **EN).content) == "Cancelled: Star trails"


def test_an_unknown_lang_is_a_clear_400(api_client):
    session = SessionFactory()
    response = api_client.get(f"/api/series/{session.series_id}/calendar.ics", {"lang": "fr"})
    assert response.status_code == 400
    assert response.json()["fields"] == {"lang": ["Choose zh-hans or en."]}


def test_the_alarm_and_labels_are_translated(api_client):
    session = SessionFactory(title="星轨", title_en="Star trails")
    body = api_client.get(f"/api/sessions/{session.id}/calendar.ics", {"lang": "zh-hans"}).content
    (event,) = events_by_uid(body).values()
    (alarm,) = event.walk("VALARM")
    assert "星轨 将在" in str(alarm["DESCRIPTION"])
    assert "场次页面：" in str(event["DESCRIPTION"])
    english = api_client.get(f"/api/sessions/{session.id}/calendar.ics", {"lang": "en"}).content
    (event,) = events_by_uid(english).values()
    assert "Star trails starts in" in str(event.walk("VALARM")[0]["DESCRIPTION"])
    assert "Session page:" in str(event["DESCRIPTION"])


def test_a_fans_private_feed_follows_the_fans_language(api_client):
    fan = UserFactory(language="zh-hans")
    registration = RegistrationFactory(fan=fan, session=cancelled_session())
    url = token_client(fan).get("/api/me/calendar-feed/").json()["url"]
    path = urlsplit(url).path
    assert summary_of(Client(**EN).get(path).content) == "已取消：星轨"
    fan.language = "en"
    fan.save(update_fields=["language"])
    assert summary_of(Client(**ZH).get(path).content) == "Cancelled: Star trails"
    assert parse_icalendar(Client().get(path).content)["X-WR-CALNAME"].startswith("My night school sessions")
    assert registration.session.title_en == "Star trails"


# --- emails --------------------------------------------------------------------------------------


def test_each_fan_is_emailed_in_their_own_language(mailoutbox, run_jobs):
    session = SessionFactory(title="星轨", title_en="Star trails", capacity=5)
    organizer = organizer_of(session.series.organization)
    chinese = RegistrationFactory(session=session, fan=UserFactory(language="zh-hans")).fan
    english = RegistrationFactory(session=session, fan=UserFactory(language="en")).fan
    Session.objects.filter(id=session.id).update(confirmed_count=2)
    session.refresh_from_db()
    new_start = session.starts_at + dt.timedelta(days=1)
    event_services.session_update(
        session=session, data={"starts_at": new_start, "ends_at": new_start + dt.timedelta(hours=2)}, by=organizer
    )
    run_jobs()
    mail = {m.to[0]: m for m in mailoutbox}
    assert mail[chinese.email].subject == "时间或地点有变：星轨"
    assert "你的报名保持不变：已报名成功。" in mail[chinese.email].body
    assert "北京时间（UTC+8）" in mail[chinese.email].body
    assert mail[english.email].subject == "New time or place: Star trails"
    assert "Beijing time (UTC+8)" in mail[english.email].body


def test_a_promoted_fan_is_told_in_their_language(mailoutbox, run_jobs):
    from registrations import services as registration_services

    session = SessionFactory(title="星轨", title_en="Star trails", capacity=1, confirmed_count=1, waitlist_count=1)
    leaving = RegistrationFactory(session=session)
    waiting = RegistrationFactory(
        session=session,
        fan=UserFactory(language="zh-hans"),
        status=Registration.Status.WAITLISTED,
        waitlist_position=1,
    )
    registration_services.registration_cancel(registration=leaving)
    run_jobs()
    (message,) = [m for m in mailoutbox if m.to == [waiting.fan.email]]
    assert message.subject == "候补成功：星轨"
    assert checkin_code_grouped(waiting.checkin_code) in message.body  # grouped for reading


# --- the admin's own labels -----------------------------------------------------------------------


def test_every_model_and_field_label_of_ours_is_marked_for_translation():
    ours = {"accounts", "events", "registrations", "streams", "calendars"}
    unmarked = []
    for model in apps.get_models():
        if model._meta.app_label not in ours:
            continue
        if not isinstance(model._meta.verbose_name, Promise):
            unmarked.append(f"{model.__name__} (verbose_name)")
        for field in model._meta.get_fields():
            if field.concrete and not field.auto_created and not isinstance(field.verbose_name, Promise):
                if model.__name__ == "User" and field.name not in ("language", "email"):
                    continue  # Django's own fields carry Django's translations
                unmarked.append(f"{model.__name__}.{field.name}")
            for _value, label in getattr(field, "choices", None) or []:
                if not isinstance(label, Promise) and field.name != "language":
                    unmarked.append(f"{model.__name__}.{field.name} choice {label!r}")
    assert unmarked == []


def test_the_admin_speaks_chinese(admin_client):
    page = admin_client.get("/admin/events/session/add/", **ZH).content.decode()
    assert "开始时间" in page and "名额上限" in page and "标题（英文）" in page
