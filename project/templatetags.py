"""Template tags for texts in the reader's language: ``{% load aperture %}`` (registered in
settings.TEMPLATES as the library ``aperture``; project/ is not an app).

- ``{% when value tz end=... year=True %}``: ``12月3日 周四 19:00`` / ``Thu 3 Dec, 19:00``;
- ``{% day value tz %}``, ``{% clock value tz %}``, ``{% zone value tz %}`` (``北京时间（UTC+8）``);
- ``{{ obj|tr:"title" }}``: an organizer-written text in the reader's language where it has one,
  else the original (project/content.py).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template

from project import content, formats

register = template.Library()


@register.simple_tag
def when(value: dt.datetime | None, tz: Any = None, end: dt.datetime | None = None, year: bool = False) -> str:
    if value is None:
        return ""
    return formats.when(value, tz, end=end, year=year)


@register.simple_tag
def day(value: dt.datetime | None, tz: Any = None, year: bool = False) -> str:
    return formats.day(value, tz, year=year) if value is not None else ""


@register.simple_tag
def clock(value: dt.datetime | None, tz: Any = None) -> str:
    return formats.clock(value, tz) if value is not None else ""


@register.simple_tag
def zone(value: dt.datetime | None, tz: Any = None) -> str:
    return formats.zone_label(value, tz) if value is not None else ""


@register.filter
def tr(obj: Any, field: str) -> str:
    return content.translated(obj, field)
