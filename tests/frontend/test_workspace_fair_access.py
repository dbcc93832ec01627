"""The session form's "Fair access" fieldset: allocation, the entry window and the draw typed on the
venue's clock, parties and offers, saved through the same events services as the API."""

import datetime as dt
import re
import zoneinfo

import pytest
from django.test import Client

from accounts.models import User
from events.models import Session
from tests.factories import CityFactory, OrganizationFactory, SessionFactory, VenueFactory, organizer_of

pytestmark = pytest.mark.django_db

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def night_shoot():
    """A night shoot at a Luoyang venue (Asia/Shanghai), first come, first served, 40 days ahead."""
    organization = OrganizationFactory()
    luoyang = CityFactory(organization=organization, name="Luoyang", local_name="洛阳")
    venue = VenueFactory(organization=organization, city=luoyang, name="Longmen Hall", timezone="Asia/Shanghai")
    day = (dt.datetime.now(SHANGHAI) + dt.timedelta(days=40)).date()
    starts = dt.datetime.combine(day, dt.time(20, 0), tzinfo=SHANGHAI)
    session = SessionFactory(
        series__organization=organization,
        venue=venue,
        kind=Session.Kind.NIGHT_SHOOT,
        title="Grottoes by night",
        starts_at=starts,
        ends_at=starts + dt.timedelta(hours=2),
        capacity=20,
    )
    return {"organizer": organizer_of(organization), "session": session, "day": day}


def _form(session: Session, day: dt.date, **extra) -> dict:
    return {
        "kind": session.kind,
        "title": session.title,
        "city": session.venue.city_id,
        "venue": session.venue_id,
        "date": day.isoformat(),
        "start": "20:00",
        "end": "22:00",
        "capacity": 20,
        "waitlist_enabled": "on",
        "save": "1",
        **extra,
    }


def _local(day: dt.date, days_before: int, time: str = "19:00") -> str:
    return f"{day - dt.timedelta(days=days_before):%Y-%m-%d}T{time}"


def _utc(day: dt.date, days_before: int, hour: int) -> dt.datetime:
    return dt.datetime.combine(day - dt.timedelta(days=days_before), dt.time(hour), tzinfo=dt.UTC)


def _field_block(body: str, name: str) -> str:
    """The form paragraph holding the input ``name`` (its label, input, zone, help and errors)."""
    found = re.search(rf'<p>(?:(?!</p>).)*name="{name}"(?:(?!</p>).)*</p>', body, re.S)
    assert found, f"no field {name}"
    return found.group(0)


def test_an_organizer_switches_a_night_shoot_to_a_draw_typed_in_the_venues_time(night_shoot):
    session, day = night_shoot["session"], night_shoot["day"]
    client = client_for(night_shoot["organizer"])
    data = _form(
        session,
        day,
        allocation="draw",
        entry_opens_at=_local(day, 10),
        entry_closes_at=_local(day, 3),
        draw_at=_local(day, 2),
        draw_refuse_new_accounts="on",
        max_party_size=4,
        offer_hold_minutes=30,
        offer_cutoff_minutes=90,
    )
    response = client.post(f"/plan/sessions/{session.id}/", data)
    assert response.status_code == 302, response.content.decode()[-3000:]

    session.refresh_from_db()
    assert session.allocation == Session.Allocation.DRAW
    # 19:00 in Shanghai is 11:00 UTC.
    assert session.entry_opens_at == _utc(day, 10, 11)
    assert session.entry_closes_at == _utc(day, 3, 11)
    assert session.draw_at == _utc(day, 2, 11)
    assert session.draw_new_accounts is False
    assert (session.max_party_size, session.offer_hold_minutes, session.offer_cutoff_minutes) == (4, 30, 90)

    page = client.get(f"/plan/sessions/{session.id}/").content.decode()
    draw_block = _field_block(page, "draw_at")
    assert f'value="{_local(day, 2)}"' in draw_block and "Beijing time (UTC+8)" in draw_block
    assert f'value="{_local(day, 10)}"' in _field_block(page, "entry_opens_at")
    assert '<option value="draw" selected>' in page
    assert re.search(r'name="draw_refuse_new_accounts"[^>]*checked', page)
    assert 'value="4"' in _field_block(page, "max_party_size")


def test_an_empty_draw_time_means_when_entries_close(night_shoot):
    session, day = night_shoot["session"], night_shoot["day"]
    data = _form(session, day, allocation="draw", entry_opens_at=_local(day, 10), entry_closes_at=_local(day, 3))
    assert client_for(night_shoot["organizer"]).post(f"/plan/sessions/{session.id}/", data).status_code == 302
    session.refresh_from_db()
    assert session.draw_at == session.entry_closes_at == _utc(day, 3, 11)
    assert session.draw_new_accounts is True


@pytest.mark.parametrize(
    ("extra", "field", "message"),
    [
        (  # entries close after the draw
            {"entry_opens_at": (10, "19:00"), "entry_closes_at": (2, "19:00"), "draw_at": (3, "19:00")},
            "draw_at",
            "Must not be before entry_closes_at.",
        ),
        ({"entry_opens_at": (3, "19:00"), "entry_closes_at": (3, "18:00")}, "entry_closes_at", "Must be after"),
        ({"entry_closes_at": (3, "19:00")}, "entry_opens_at", "A draw needs it."),
        (  # the draw after the start
            {"entry_opens_at": (10, "19:00"), "entry_closes_at": (3, "19:00"), "draw_at": (0, "21:00")},
            "draw_at",
            "Must be before starts_at.",
        ),
        (
            {"entry_opens_at": (10, "19:00"), "entry_closes_at": (3, "19:00"), "max_party_size": 51},
            "max_party_size",
            "A whole number from 1 to 50.",
        ),
    ],
)
def test_a_combination_the_service_refuses_shows_on_its_field_and_saves_nothing(night_shoot, extra, field, message):
    session, day = night_shoot["session"], night_shoot["day"]
    values = {name: _local(day, *value) if isinstance(value, tuple) else value for name, value in extra.items()}
    response = client_for(night_shoot["organizer"]).post(
        f"/plan/sessions/{session.id}/", _form(session, day, allocation="draw", **values)
    )
    assert response.status_code == 200
    body = response.content.decode()
    assert message in _field_block(body, field)
    session.refresh_from_db()
    assert session.allocation == Session.Allocation.FIRST_COME
    assert (session.entry_opens_at, session.entry_closes_at, session.max_party_size) == (None, None, 1)


def test_the_fair_access_fieldset_reads_in_chinese(night_shoot):
    organizer = night_shoot["organizer"]
    organizer.language = "zh-hans"
    organizer.save(update_fields=["language"])
    body = client_for(organizer).get(f"/plan/sessions/{night_shoot['session'].id}/").content.decode()
    for text in ("公平分配", "名额分配方式", "先到先得", "抽签", "报名开始", "报名截止", "抽签时间", "每组最多人数"):
        assert text in body, text
    assert "拒绝报名开始后注册的账号" in body and "名额保留时长（分钟）" in body
    assert "Fair access" not in body and "Entries open" not in body
