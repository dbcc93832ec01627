"""Shared pieces of the REST layer: pagination, strict datetime fields, query-parameter parsing."""

import datetime as dt
import zoneinfo
from functools import cache

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.pagination import PageNumberPagination

from project.errors import ApplicationError


class Pagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def parse_aware_datetime(value: str) -> dt.datetime | None:
    """ISO 8601 with an explicit offset, or None. A time without an offset is ambiguous across
    the country's venues, so it is refused rather than guessed."""
    try:
        parsed = parse_datetime(value.strip())
    except (ValueError, TypeError):
        return None
    if parsed is None or parsed.tzinfo is None:
        return None
    return parsed


class AwareDateTimeField(serializers.DateTimeField):
    """A DateTimeField that refuses naive input instead of assuming the server's time zone."""

    default_error_messages = {
        "naive": gettext_lazy("Give the time in ISO 8601 with an offset, e.g. 2026-12-05T19:30:00+08:00."),
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            try:
                parsed = parse_datetime(value.strip())
            except ValueError:  # well-formed but impossible, e.g. 12:99
                self.fail("invalid", format="YYYY-MM-DDThh:mm[:ss[.uuuuuu]]±hh:mm")
            if parsed is not None and parsed.tzinfo is None:
                self.fail("naive")
            if parsed is not None and not _representable_in_utc(parsed):
                self.fail("invalid", format="a date between the years 1 and 9999")
        elif isinstance(value, dt.datetime) and value.tzinfo is None:
            self.fail("naive")
        return super().to_internal_value(value)


def _representable_in_utc(value: dt.datetime) -> bool:
    try:
        value.astimezone(dt.UTC)
    except OverflowError:
        return False
    return True


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class TimeZoneField(serializers.CharField):
    default_error_messages = {"unknown": gettext_lazy("Unknown IANA time zone {value!r}, e.g. Asia/Shanghai.")}

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in known_timezones():
            self.fail("unknown", value=value)
        return value


def query_datetime(params, name: str) -> dt.datetime | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    parsed = parse_aware_datetime(raw)
    if parsed is None:
        raise ApplicationError(
            _("%(name)s must be ISO 8601 with an offset, e.g. 2026-12-05T19:30:00+08:00.") % {"name": name},
            fields={name: [_("Give an ISO 8601 time with an offset.")]},
        )
    return parsed


# Ids and counts are 64-bit signed integers in every database we run on.
MAX_DB_INT = 2**63 - 1


def query_int(params, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise ApplicationError(
            _("%(name)s must be a whole number.") % {"name": name}, fields={name: [_("A whole number is required.")]}
        ) from exc
    if not -MAX_DB_INT <= value <= MAX_DB_INT:
        raise ApplicationError(
            _("%(name)s is out of range.") % {"name": name}, fields={name: [_("This number is out of range.")]}
        )
    return value


def query_bool(params, name: str) -> bool | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ApplicationError(
        _("%(name)s must be true or false.") % {"name": name}, fields={name: [_("Must be true or false.")]}
    )
