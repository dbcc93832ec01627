"""Dates and times the way each language writes them, on the venue's clock, the zone named
(issue 11 point 3)."""

import datetime as dt

from django.utils import translation

from project import formats

# Thursday 3 December 2026, 19:00 in Shanghai.
EVENING = dt.datetime(2026, 12, 3, 11, 0, tzinfo=dt.UTC)
LATER = dt.datetime(2026, 12, 3, 13, 30, tzinfo=dt.UTC)


def test_chinese_writes_month_day_weekday_and_24_hour_time():
    assert formats.when(EVENING, "Asia/Shanghai", language="zh-hans") == "12月3日 周四 19:00"
    assert formats.when(EVENING, "Asia/Shanghai", year=True, language="zh-hans") == "2026年12月3日 周四 19:00"


def test_english_writes_weekday_day_month_and_24_hour_time():
    assert formats.when(EVENING, "Asia/Shanghai", language="en") == "Thu 3 Dec, 19:00"
    assert formats.when(EVENING, "Asia/Shanghai", year=True, language="en") == "Thu 3 Dec 2026, 19:00"


def test_a_range_on_one_day_names_the_day_once():
    assert formats.when(EVENING, "Asia/Shanghai", end=LATER, language="en") == "Thu 3 Dec, 19:00–21:30"
    assert formats.when(EVENING, "Asia/Shanghai", end=LATER, language="zh-hans") == "12月3日 周四 19:00–21:30"


def test_a_range_past_midnight_names_both_days():
    late = EVENING + dt.timedelta(hours=6)
    assert formats.when(EVENING, "Asia/Shanghai", end=late, language="en") == "Thu 3 Dec, 19:00 – Fri 4 Dec, 01:00"


def test_the_venue_clock_decides_the_day_and_hour():
    assert formats.when(EVENING, "Asia/Urumqi", language="en") == "Thu 3 Dec, 17:00"
    assert formats.when(EVENING, "Europe/London", language="en") == "Thu 3 Dec, 11:00"
    assert formats.when(dt.datetime(2026, 12, 3, 20, 0, tzinfo=dt.UTC), "Asia/Shanghai", language="en") == (
        "Fri 4 Dec, 04:00"
    )


def test_the_zone_is_named_in_the_readers_language():
    assert formats.zone_label(EVENING, "Asia/Shanghai", language="zh-hans") == "北京时间（UTC+8）"
    assert formats.zone_label(EVENING, "Asia/Shanghai", language="en") == "Beijing time (UTC+8)"
    assert formats.zone_label(EVENING, "Asia/Urumqi", language="zh-hans") == "新疆时间（UTC+6）"
    assert formats.zone_label(EVENING, "Asia/Kolkata", language="en") == "Asia/Kolkata (UTC+5:30)"
    assert formats.zone_label(EVENING, "UTC", language="en") == "UTC"


def test_the_active_language_is_the_default():
    with translation.override("zh-hans"):
        assert formats.when_in_zone(EVENING, "Asia/Shanghai") == "12月3日 周四 19:00 北京时间（UTC+8）"
    with translation.override("en"):
        assert formats.when_in_zone(EVENING, "Asia/Shanghai") == "Thu 3 Dec, 19:00 Beijing time (UTC+8)"
