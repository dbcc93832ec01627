"""Dates, times and time zones written the way each language writes them (issue 11 point 3).

- Chinese: ``12月3日 周四 19:00`` (``2025年12月3日 周四 19:00`` with the year);
- English: ``Thu 3 Dec, 19:00`` (``Thu 3 Dec 2025, 19:00``).

Always on the venue's clock, and the zone is named (``北京时间 (UTC+8)`` / ``Beijing time
(UTC+8)``). Pages add the reader's own time beside it in the browser (app.js), in the same format.
These are formats, not translations: the language decides the shape, so no catalogue is involved,
except for the zone names. Everything here reads the active language (``translation.get_language``)
unless ``language`` is given.
"""

from __future__ import annotations

import datetime as dt
from contextlib import nullcontext
from zoneinfo import ZoneInfo

from django.utils import translation
from django.utils.translation import gettext_lazy as _

ZH_WEEKDAYS = ["周一", "周二", "周三", "周四", "周五", "周六", "周日"]
EN_WEEKDAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
EN_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

# Zones people call by a name; any other zone is named by its IANA key. China has one official
# time; Xinjiang also keeps its own, two hours behind (Asia/Urumqi).
ZONE_NAMES = {
    "Asia/Shanghai": _("Beijing time"),
    "Asia/Chongqing": _("Beijing time"),
    "Asia/Harbin": _("Beijing time"),
    "PRC": _("Beijing time"),
    "Asia/Urumqi": _("Xinjiang time"),
    "Asia/Hong_Kong": _("Hong Kong time"),
    "Asia/Macau": _("Macau time"),
    "Asia/Taipei": _("Taipei time"),
    "Asia/Tokyo": _("Tokyo time"),
    "Asia/Singapore": _("Singapore time"),
    "Europe/London": _("London time"),
    "UTC": _("UTC"),
}


def _language(language: str | None) -> str:
    return (language or translation.get_language() or "zh-hans").lower()


def is_chinese(language: str | None = None) -> bool:
    return _language(language).startswith("zh")


def _zone(tz: str | dt.tzinfo | None) -> dt.tzinfo:
    if tz is None:
        return dt.UTC
    if isinstance(tz, str):
        return ZoneInfo(tz)
    return tz


def local(value: dt.datetime, tz: str | dt.tzinfo | None) -> dt.datetime:
    """``value`` on the clock of ``tz`` (a zone name or tzinfo)."""
    return value.astimezone(_zone(tz))


def iso_local(value: dt.datetime, tz: str | dt.tzinfo | None) -> str:
    """``value`` in ISO 8601 / RFC 3339 on the clock of ``tz``, as the API shows times. Before a
    zone kept standard time its offset was the local mean time, in seconds (Shanghai's +08:05:43
    until 1901), which RFC 3339 cannot write: such a time is given in UTC instead."""
    moment = local(value, tz)
    offset = moment.utcoffset()
    if offset is not None and offset.total_seconds() % 60:
        moment = value.astimezone(dt.UTC)
    return moment.isoformat()


def day(
    value: dt.datetime, tz: str | dt.tzinfo | None = None, *, year: bool = False, language: str | None = None
) -> str:
    """``12月3日 周四`` / ``Thu 3 Dec``."""
    at = local(value, tz) if tz is not None else value
    if is_chinese(language):
        prefix = f"{at.year}年" if year else ""
        return f"{prefix}{at.month}月{at.day}日 {ZH_WEEKDAYS[at.weekday()]}"
    suffix = f" {at.year}" if year else ""
    return f"{EN_WEEKDAYS[at.weekday()]} {at.day} {EN_MONTHS[at.month - 1]}{suffix}"


def clock(value: dt.datetime, tz: str | dt.tzinfo | None = None) -> str:
    """``19:00``, 24-hour in both languages."""
    at = local(value, tz) if tz is not None else value
    return f"{at:%H:%M}"


def when(
    value: dt.datetime,
    tz: str | dt.tzinfo | None = None,
    *,
    end: dt.datetime | None = None,
    year: bool = False,
    language: str | None = None,
) -> str:
    """``12月3日 周四 19:00`` / ``Thu 3 Dec, 19:00``; with ``end``: ``…19:00–21:00`` (or both days
    when the session runs past midnight)."""
    at = local(value, tz) if tz is not None else value
    separator = " " if is_chinese(language) else ", "
    text = f"{day(at, year=year, language=language)}{separator}{clock(at)}"
    if end is not None:
        finish = local(end, tz) if tz is not None else end
        if finish.date() == at.date():
            text += f"–{clock(finish)}"
        else:
            text += f" – {day(finish, year=year, language=language)}{separator}{clock(finish)}"
    return text


def utc_offset(value: dt.datetime, tz: str | dt.tzinfo | None) -> str:
    """``UTC+8``, ``UTC+5:30``, ``UTC-3``, ``UTC``."""
    offset = local(value, tz).utcoffset() or dt.timedelta(0)
    minutes = int(offset.total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def zone_label(value: dt.datetime, tz: str | dt.tzinfo | None, *, language: str | None = None) -> str:
    """``北京时间 (UTC+8)`` / ``Beijing time (UTC+8)``; an unnamed zone: ``Europe/Paris (UTC+1)``."""
    key = tz if isinstance(tz, str) else getattr(tz, "key", None) or str(tz)
    offset = utc_offset(value, tz)
    with translation.override(language) if language else nullcontext():
        name = ZONE_NAMES.get(key)
        label = str(name) if name is not None else key
    if label == offset:
        return label
    return f"{label}（{offset}）" if is_chinese(language) else f"{label} ({offset})"


def when_in_zone(
    value: dt.datetime,
    tz: str | dt.tzinfo | None,
    *,
    end: dt.datetime | None = None,
    year: bool = False,
    language: str | None = None,
) -> str:
    """``12月3日 周四 19:00–21:00 北京时间（UTC+8）`` / ``Thu 3 Dec, 19:00–21:00 Beijing time (UTC+8)``:
    what emails and calendar texts say, where the reader's own zone is not known."""
    return f"{when(value, tz, end=end, year=year, language=language)} {zone_label(value, tz, language=language)}"


def duration(minutes: int, *, language: str | None = None) -> str:
    """``4 h 33 min`` / ``4小时33分钟``; ``1 h``, ``45 min``; negative spans read as none."""
    hours, rest = divmod(max(int(minutes), 0), 60)
    if is_chinese(language):
        return (f"{hours}小时" if hours else "") + (f"{rest}分钟" if rest or not hours else "")
    parts = ([f"{hours} h"] if hours else []) + ([f"{rest} min"] if rest or not hours else [])
    return " ".join(parts)


class AmbiguousLocalTime(ValueError):
    """A wall-clock time that a zone's clock change makes happen twice or never."""


def aware(naive: dt.datetime, tz: str | dt.tzinfo) -> dt.datetime:
    """The moment a wall-clock time names in ``tz`` (what an organizer types for a venue). A time
    that a daylight-saving change makes ambiguous (it happens twice) or non-existent (skipped) is
    refused rather than guessed."""
    zone = _zone(tz)
    first, second = naive.replace(tzinfo=zone, fold=0), naive.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        raise AmbiguousLocalTime(naive)
    if first.astimezone(dt.UTC).astimezone(zone).replace(tzinfo=None) != naive:
        raise AmbiguousLocalTime(naive)
    return first
