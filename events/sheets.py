"""The month plan as a spreadsheet (issue 12): what organizers type (names, local dates and times)
turned into what ``services.series_plan_import`` takes (ids, aware datetimes), all or nothing.

A sheet has a header row and one session per row:

    kind, title, title_en, city, venue, date, start, end, hosts, capacity, description

- ``kind``: talk / night_shoot / livestream (or 讲座 / 夜拍 / 直播, or the English labels);
- ``city`` and ``venue`` by name (a city's English or Chinese name), the venue within the city;
- ``date`` (YYYY-MM-DD), ``start`` and ``end`` (HH:MM) on the venue's clock; an end before the start
  is the next day;
- ``hosts``: names or usernames of the organization's members, separated by ``;`` ``、`` or ``,``.

Rows are numbered as a spreadsheet numbers them (the first row under the header is row 2).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.utils.translation import gettext as _

from accounts.models import Membership, User
from events import services
from events.models import City, Series, Session, Venue
from project import formats
from project.errors import ApplicationError

COLUMNS = ["kind", "title", "title_en", "city", "venue", "date", "start", "end", "hosts", "capacity", "description"]
REQUIRED = ["kind", "title", "date", "start", "end"]
FIRST_ROW = 2  # under the header
MAX_BYTES = 2 * 1024 * 1024
KIND_NAMES = {
    "talk": Session.Kind.TALK,
    "讲座": Session.Kind.TALK,
    "night_shoot": Session.Kind.NIGHT_SHOOT,
    "night shoot": Session.Kind.NIGHT_SHOOT,
    "夜拍": Session.Kind.NIGHT_SHOOT,
    "livestream": Session.Kind.LIVESTREAM,
    "直播": Session.Kind.LIVESTREAM,
}
_SEPARATORS = re.compile(r"[;；、,，]+")

Table = list[dict[str, str]]


def _text(value: Any) -> str:
    """A cell as text: spreadsheet dates and times as ISO, numbers without a trailing .0."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M") if value.time() != dt.time(0) else value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.strftime("%H:%M")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _table(header: list[Any], rows: Iterable[Iterable[Any]]) -> Table:
    columns = [_text(c).lower() for c in header]
    unknown = [c for c in columns if c and c not in COLUMNS]
    missing = [c for c in REQUIRED if c not in columns]
    if unknown or missing:
        raise ApplicationError(
            _("The header row must name the template's columns: %(columns)s.") % {"columns": ", ".join(COLUMNS)},
            fields={
                "file": [
                    _("Unknown columns: %(unknown)s; missing: %(missing)s.")
                    % {"unknown": ", ".join(unknown) or "-", "missing": ", ".join(missing) or "-"}
                ]
            },
        )
    table = []
    for row in rows:
        cells = [_text(v) for v in row]
        if not any(cells):
            continue
        table.append({name: cells[i] if i < len(cells) else "" for i, name in enumerate(columns) if name})
    if len(table) > services.MAX_PLAN_ROWS:
        raise ApplicationError(
            _("At most %(max_plan_rows)s sessions in one plan.") % {"max_plan_rows": services.MAX_PLAN_ROWS},
            fields={"file": [_("Too many rows.")]},
        )
    return table


def table_from_csv(data: bytes) -> Table:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ApplicationError(_("The CSV must be UTF-8."), fields={"file": [_("Not UTF-8 text.")]}) from exc
    try:
        reader = list(csv.reader(io.StringIO(text)))
    except csv.Error as exc:
        raise ApplicationError(_("The CSV cannot be read."), fields={"file": [str(exc)]}) from exc
    if not reader:
        raise ApplicationError(_("The file is empty."), fields={"file": [_("The file is empty.")]})
    return _table(reader[0], reader[1:])


def table_from_xlsx(data: bytes) -> Table:
    """The first sheet of an .xlsx workbook (read with openpyxl, values not formulas)."""
    from openpyxl import load_workbook  # imported here: only an upload needs it

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable workbook is the uploader's error
        raise ApplicationError(
            _("This is not an .xlsx workbook Aperture can read."), fields={"file": [_("Not an .xlsx workbook.")]}
        ) from exc
    try:
        rows = workbook.worksheets[0].iter_rows(values_only=True)
        header = next(rows, None)
        if header is None:
            raise ApplicationError(_("The file is empty."), fields={"file": [_("The file is empty.")]})
        return _table(list(header), rows)
    finally:
        workbook.close()


def table_from_upload(*, name: str, data: bytes) -> Table:
    if len(data) > MAX_BYTES:
        raise ApplicationError(
            _("The file is larger than %(mb)s MB.") % {"mb": MAX_BYTES // (1024 * 1024)},
            fields={"file": [_("Too large.")]},
        )
    if name.lower().endswith(".xlsx"):
        return table_from_xlsx(data)
    return table_from_csv(data)


class _Names:
    """The organization's cities, venues and members by the names people type: three queries."""

    def __init__(self, organization_id: int) -> None:
        self.cities: dict[str, City] = {}
        for city in City.objects.filter(organization_id=organization_id):
            for name in (city.name, city.local_name, city.name_en, city.name_zh_hans):
                if name:
                    self.cities.setdefault(name.casefold(), city)
        self.venues: dict[tuple[int, str], Venue] = {}
        self.venues_anywhere: dict[str, list[Venue]] = {}
        for venue in Venue.objects.filter(organization_id=organization_id).select_related("city"):
            for name in (venue.name, venue.name_en, venue.name_zh_hans):
                if name:
                    self.venues.setdefault((venue.city_id, name.casefold()), venue)
                    self.venues_anywhere.setdefault(name.casefold(), []).append(venue)
        self.people: dict[str, User] = {}
        member_ids = Membership.objects.filter(organization_id=organization_id).values_list("user_id", flat=True)
        for user in User.objects.filter(id__in=member_ids):
            for name in (
                user.username,
                f"{user.first_name} {user.last_name}".strip(),
                f"{user.last_name} {user.first_name}".strip(),
                f"{user.last_name}{user.first_name}".strip(),
            ):
                if name:
                    self.people.setdefault(name.casefold(), user)


def _row(cells: Mapping[str, str], names: _Names) -> tuple[dict[str, Any] | None, dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}
    values: dict[str, Any] = {"title": cells.get("title", ""), "description": cells.get("description", "")}
    if cells.get("title_en"):
        values["title_en"] = cells["title_en"]
    kind = KIND_NAMES.get(cells.get("kind", "").strip().casefold())
    if kind is None:
        errors["kind"] = [
            _("Unknown kind “%(kind)s”: talk, night_shoot or livestream.") % {"kind": cells.get("kind", "")}
        ]
    values["kind"] = kind
    city = names.cities.get(cells.get("city", "").casefold()) if cells.get("city") else None
    if cells.get("city") and city is None:
        errors["city"] = [_("No city “%(city)s” in this organization.") % {"city": cells["city"]}]
    venue = None
    if cells.get("venue"):
        key = cells["venue"].casefold()
        if city is not None:
            venue = names.venues.get((city.id, key))
        elif len(names.venues_anywhere.get(key, [])) == 1:
            venue = names.venues_anywhere[key][0]
        if venue is None:
            errors["venue"] = [
                _("No venue “%(venue)s” in %(city)s.")
                % {"venue": cells["venue"], "city": cells.get("city") or _("this organization")}
            ]
    values["venue"], values["city"] = (venue.id if venue else None), (city.id if city and not venue else None)
    zone = venue.timezone if venue else (city.timezone if city else None)
    try:
        day = dt.date.fromisoformat(cells.get("date", ""))
    except ValueError:
        errors["date"] = [_("“%(value)s” is not a date like 2026-12-05.") % {"value": cells.get("date", "")}]
        day = None
    clock = {}
    for name in ("start", "end"):
        try:
            clock[name] = dt.time.fromisoformat(cells.get(name, ""))
        except ValueError:
            errors[name] = [_("“%(value)s” is not a time like 19:30.") % {"value": cells.get(name, "")}]
    if day and zone and len(clock) == 2:
        end_day = day + dt.timedelta(days=1) if clock["end"] <= clock["start"] else day
        try:
            values["starts_at"] = formats.aware(dt.datetime.combine(day, clock["start"]), zone)
            values["ends_at"] = formats.aware(dt.datetime.combine(end_day, clock["end"]), zone)
        except formats.AmbiguousLocalTime:
            errors["start"] = [_("The clocks change at this time there: pick another time.")]
    hosts = []
    for name in (n.strip() for n in _SEPARATORS.split(cells.get("hosts", "")) if n.strip()):
        person = names.people.get(name.casefold())
        if person is None:
            errors.setdefault("hosts", []).append(_("No member “%(name)s” in this organization.") % {"name": name})
        else:
            hosts.append(person.id)
    values["hosts"] = hosts
    if cells.get("capacity"):
        try:
            values["capacity"] = int(cells["capacity"])
        except ValueError:
            errors["capacity"] = [_("A whole number, zero or more.")]
    return (None if errors else values), errors


def series_plan_sheet_import(
    *, series: Series, table: Table, by: User | None = None, dry_run: bool = False
) -> services.PlanResult:
    """A month plan from a spreadsheet, all or nothing, through ``series_plan_import`` (its rules,
    conflict checks and locks). Raises one ApplicationError whose ``fields["rows"]`` are keyed by the
    spreadsheet's row numbers, naming every bad row and every conflict."""
    names = _Names(series.organization_id)
    rows, row_errors = [], {}
    for index, cells in enumerate(table):
        values, errors = _row(cells, names)
        rows.append(values)
        if errors:
            row_errors[index] = errors
    try:
        return services.series_plan_import(
            series=series, rows=rows, row_errors=row_errors, by=by, dry_run=dry_run, first_row=FIRST_ROW
        )
    except ApplicationError as exc:
        bad = (exc.extra or {}).get("rows")
        if not bad:
            raise
        by_line = {str(int(index) + FIRST_ROW): fields for index, fields in bad.items()}
        raise ApplicationError(
            exc.message,
            code=exc.code,
            fields={"rows": by_line},
            extra={"rows": by_line},
        ) from exc


def template_rows(series: Series) -> list[list[str]]:
    """The template's header and two example rows in the organization's own places."""
    venue = Venue.objects.filter(organization_id=series.organization_id).select_related("city").first()
    city, place = (venue.city.name, venue.name) if venue else ("Luoyang", "Longmen Hall")
    day = (dt.date.today() + dt.timedelta(days=30)).isoformat()  # noqa: DTZ011 - an example date
    return [
        COLUMNS,
        ["talk", "夜景摄影入门", "Night photography basics", city, place, day, "19:00", "21:00", "", "30", ""],
        ["night_shoot", "城市夜拍", "City lights walk", city, place, day, "22:00", "00:30", "", "20", ""],
    ]
