"""Shared pieces of the REST layer: pagination, strict datetime fields, query-parameter parsing."""

import datetime as dt
import zoneinfo
from functools import cache

from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.pagination import PageNumberPagination

from project.errors import ApplicationError


def refuse_numbers_as_text() -> None:
    """Text fields take text (no longer than their maximum as sent), number fields numbers: DRF's
    CharField (and so SlugField, EmailField, RegexField...) turns a JSON number into a string
    (``{"reason": 0}`` became the reason "0"), which the schema's ``type: string`` does not allow.
    Made project-wide once, at start-up (ProjectConfig.ready), so that no serializer can forget it;
    CSV rows are text already."""
    if getattr(serializers.CharField, "_refuses_numbers", False):
        return
    to_internal_value = serializers.CharField.to_internal_value

    def text_only(field: serializers.CharField, data):
        if not isinstance(data, str):
            field.fail("invalid")
        # The length is the schema's ``maxLength`` of the text as sent: DRF trims whitespace first
        # (including control characters such as U+001C) and would accept a text one character too long.
        if field.max_length is not None and len(data) > field.max_length:
            field.fail("max_length", max_length=field.max_length)
        return to_internal_value(field, data)

    serializers.CharField.to_internal_value = text_only  # type: ignore[method-assign]
    serializers.CharField._refuses_numbers = True  # type: ignore[attr-defined]

    # Likewise a number field takes a JSON number: not true/false (float(False) is 0.0) nor text.
    to_float = serializers.FloatField.to_internal_value

    def number_only(field: serializers.FloatField, data):
        if isinstance(data, (bool, str)):
            field.fail("invalid")
        return to_float(field, data)

    serializers.FloatField.to_internal_value = number_only  # type: ignore[method-assign]

    # And a true/false field takes JSON true or false (not 0, 1 or "yes"): CSV plans convert their
    # text first (events.apis).
    to_bool = serializers.BooleanField.to_internal_value

    def bool_only(field: serializers.BooleanField, data):
        if not isinstance(data, bool):
            field.fail("invalid", input=data)
        return to_bool(field, data)

    serializers.BooleanField.to_internal_value = bool_only  # type: ignore[method-assign]

    # A whole number (or an object's id) is a JSON number, not text; CSV plans convert theirs.
    to_int = serializers.IntegerField.to_internal_value

    def int_only(field: serializers.IntegerField, data):
        if isinstance(data, (bool, str)):
            field.fail("invalid")
        return to_int(field, data)

    serializers.IntegerField.to_internal_value = int_only  # type: ignore[method-assign]
    to_pk = serializers.PrimaryKeyRelatedField.to_internal_value
    validate_pk = serializers.PrimaryKeyRelatedField.run_validation

    def pk_only(field: serializers.PrimaryKeyRelatedField, data):
        if isinstance(data, bool) or not isinstance(data, int):
            field.fail("incorrect_type", data_type=type(data).__name__)
        return to_pk(field, data)

    def no_blank_pk(field: serializers.PrimaryKeyRelatedField, data=empty):
        if data == "":  # DRF reads "" as null for related fields
            field.fail("incorrect_type", data_type="str")
        return validate_pk(field, data)

    serializers.PrimaryKeyRelatedField.to_internal_value = pk_only  # type: ignore[method-assign]
    serializers.PrimaryKeyRelatedField.run_validation = no_blank_pk  # type: ignore[method-assign]


class Pagination(PageNumberPagination):
    """``?page=`` and ``?page_size=`` (at most 200: larger sizes are cut to 200, as the contract says).
    Either one that is not a whole number from 1 up is a 400 rather than silently ignored; a page past
    the last one is a 404."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request) -> int:
        size = _positive_query_int(request.query_params, self.page_size_query_param)
        return self.page_size if size is None else min(size, self.max_page_size)

    def get_page_number(self, request, paginator):
        if request.query_params.get(self.page_query_param) in self.last_page_strings:
            return paginator.num_pages
        return _positive_query_int(request.query_params, self.page_query_param) or 1

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            parameter["schema"]["minimum"] = 1
            if parameter["name"] == self.page_size_query_param:
                parameter["description"] = f"Results per page, 1 to {self.max_page_size} (larger sizes are cut)."
        return parameters


def _positive_query_int(params, name: str) -> int | None:
    """A whole number from 1 up, or None when the parameter is absent (``?page_size=`` counts as absent)."""
    raw = params.get(name)
    if raw in (None, ""):
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 18) or int(raw) < 1:
        raise ApplicationError(
            _("%(name)s must be a whole number from 1 up.") % {"name": name},
            fields={name: [_("A whole number from 1 up is required.")]},
        )
    return int(raw)


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


# Names the zone database answers to that are no place on Earth: the server's own clock ("localtime"),
# a template file ("posixrules") and the "Factory" placeholder.
NOT_PLACES = frozenset({"localtime", "posixrules", "Factory"})


@cache
def known_timezones() -> frozenset[str]:
    """IANA zone names (``Asia/Shanghai``, also links such as ``PRC``), without the files that are
    no time zone of a place."""
    return frozenset(zoneinfo.available_timezones()) - NOT_PLACES


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
