"""Shared pieces of the REST layer: pagination, strict datetime fields, query-parameter parsing."""

import datetime as dt
import zoneinfo
from functools import cache

from django.utils.dateparse import parse_datetime
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
        "naive": "Give the time in ISO 8601 with an offset, e.g. 2026-12-05T19:30:00+08:00.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str):
            if parse_aware_datetime(value) is None and parse_datetime(value.strip() or "x") is not None:
                self.fail("naive")
        elif isinstance(value, dt.datetime) and value.tzinfo is None:
            self.fail("naive")
        return super().to_internal_value(value)


@cache
def known_timezones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class TimeZoneField(serializers.CharField):
    default_error_messages = {"unknown": "Unknown IANA time zone {value!r}, e.g. Asia/Shanghai."}

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
            f"{name} must be ISO 8601 with an offset, e.g. 2026-12-05T19:30:00+08:00.",
            fields={name: ["Give an ISO 8601 time with an offset."]},
        )
    return parsed


def query_int(params, name: str) -> int | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ApplicationError(
            f"{name} must be a whole number.", fields={name: ["A whole number is required."]}
        ) from exc


def query_bool(params, name: str) -> bool | None:
    raw = params.get(name)
    if raw in (None, ""):
        return None
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ApplicationError(f"{name} must be true or false.", fields={name: ["Must be true or false."]})
