"""Writes of the plan: cities, venues, series and sessions.

Every service checks the business rules and raises ``ApplicationError`` with field-level errors; views
only parse input. ``by`` is the acting user: when given, they must organize the owning organization
(``None`` is the system itself, e.g. a management command).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db import transaction
from django.db.models import Max, Model, Q
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from accounts.models import Membership, Organization, User
from accounts.selectors import is_organizer_of
from events import conflicts
from events.models import City, Series, Session, Venue
from project import hooks
from project.api import known_timezones
from project.content import translation_fields
from project.errors import ApplicationError

MAX_SESSION_LENGTH = dt.timedelta(hours=24)
MAX_PLAN_ROWS = 1000

# How seats are given out (registrations applies the rules; README, "Fair access").
FAIR_ACCESS_FIELDS = (
    "allocation",
    "max_party_size",
    "offer_hold_minutes",
    "offer_cutoff_minutes",
    "entry_opens_at",
    "entry_closes_at",
    "draw_at",
    "draw_new_accounts",
)
MAX_PARTY_SIZE = 50

SESSION_FIELDS = (
    "kind",
    "title",
    "description",
    "city",
    "venue",
    "hosts",
    "starts_at",
    "ends_at",
    "capacity",
    "registration_opens_at",
    "registration_closes_at",
    "priority_opens_at",
    "waitlist_enabled",
    *FAIR_ACCESS_FIELDS,
    *translation_fields("title"),
    *translation_fields("description"),
)
# Changes that move a session in time or space: they bump the calendar SEQUENCE and tell the fans.
TIME_FIELDS = ("starts_at", "ends_at")
PLACE_FIELDS = ("venue", "city")
# Changes after which the conflict rules must be checked again.
SCHEDULE_FIELDS = (*TIME_FIELDS, *PLACE_FIELDS, "hosts", "kind")

Errors = dict[str, list[str]]


def _ensure_organizer(by: User | None, organization_id: int) -> None:
    if by is not None and not is_organizer_of(user=by, organization_id=organization_id):
        raise ApplicationError(
            _("Only organizers of this organization may change its plan."),
            code="permission_denied",
            status_code=403,
        )


def _invalid(errors: Mapping[str, list[str]]) -> ApplicationError:
    name, messages = next(iter(errors.items()))
    return ApplicationError(f"{name}: {messages[0]}", code="invalid", fields=dict(errors))


def _ref_id(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, Model):
        return value.pk
    return int(value)


def _check_place(errors: Errors, values: Mapping[str, Any]) -> None:
    latitude, longitude = values.get("latitude"), values.get("longitude")
    if latitude is not None and not -90 <= latitude <= 90:
        errors["latitude"].append(_("Must be between -90 and 90."))
    if longitude is not None and not -180 <= longitude <= 180:
        errors["longitude"].append(_("Must be between -180 and 180."))
    tz = values.get("timezone")
    if tz is not None and tz not in known_timezones():
        errors["timezone"].append(_("Unknown IANA time zone %(tz)s, e.g. Asia/Shanghai.") % {"tz": repr(tz)})


def _apply(instance: Model, values: Mapping[str, Any]) -> list[str]:
    changed = []
    for name, value in values.items():
        if getattr(instance, name) != value:
            setattr(instance, name, value)
            changed.append(name)
    return changed


# --- cities --------------------------------------------------------------------------------------

CITY_FIELDS = ("name", "local_name", "latitude", "longitude", "timezone", *translation_fields("name"))


def _city_errors(*, organization_id: int, values: Mapping[str, Any], city_id: int | None = None) -> Errors:
    errors: Errors = defaultdict(list)
    for name in ("name", "latitude", "longitude", "timezone"):
        if values.get(name) in (None, ""):
            errors[name].append(_("This field is required."))
    _check_place(errors, values)
    city_name = values.get("name")
    if city_name:
        clash = City.objects.filter(organization_id=organization_id, name__iexact=city_name)
        if city_id is not None:
            clash = clash.exclude(id=city_id)
        if clash.exists():
            errors["name"].append(
                _("This organization already has a city named %(city_name)s.") % {"city_name": repr(city_name)}
            )
    return errors


@transaction.atomic
def city_create(*, organization: Organization, data: Mapping[str, Any], by: User | None = None) -> City:
    _ensure_organizer(by, organization.id)
    values = {name: data[name] for name in CITY_FIELDS if name in data}
    errors = _city_errors(organization_id=organization.id, values=values)
    if errors:
        raise _invalid(errors)
    return City.objects.create(organization=organization, **values)


@transaction.atomic
def city_update(*, city: City, data: Mapping[str, Any], by: User | None = None) -> City:
    _ensure_organizer(by, city.organization_id)
    city = City.objects.select_for_update().get(pk=city.pk)
    values = {name: data[name] for name in CITY_FIELDS if name in data}
    merged = {name: getattr(city, name) for name in CITY_FIELDS} | values
    errors = _city_errors(organization_id=city.organization_id, values=merged, city_id=city.id)
    if errors:
        raise _invalid(errors)
    changed = _apply(city, values)
    if changed:
        city.save(update_fields=changed)
    return city


# --- venues --------------------------------------------------------------------------------------

VENUE_FIELDS = (
    "city",
    "name",
    "address",
    "latitude",
    "longitude",
    "timezone",
    "max_capacity",
    "outdoor",
    *translation_fields("name"),
)


def _venue_errors(*, organization_id: int, values: dict[str, Any], venue: Venue | None = None) -> Errors:
    errors: Errors = defaultdict(list)
    city = values.get("city")
    if city is None:
        errors["city"].append(_("This field is required."))
    elif city.organization_id != organization_id:
        errors["city"].append(_("This city belongs to another organization."))
    if not values.get("name"):
        errors["name"].append(_("This field is required."))
    if values.get("max_capacity") is None:
        errors["max_capacity"].append(_("This field is required."))
    elif values["max_capacity"] < 0:
        errors["max_capacity"].append(_("Must be zero or more."))
    _check_place(errors, values)
    if errors or city is None:
        return errors
    clash = Venue.objects.filter(city=city, name__iexact=values["name"])
    if venue is not None:
        clash = clash.exclude(id=venue.id)
    if clash.exists():
        errors["name"].append(
            _("%(name)s already has a venue named %(name2)s.") % {"name": city.name, "name2": repr(values["name"])}
        )
    if venue is not None:
        upcoming = Session.objects.filter(venue=venue).exclude(status=Session.Status.CANCELLED)
        if city.id != venue.city_id and upcoming.exists():
            errors["city"].append(_("This venue has sessions; plan them elsewhere before moving it to another city."))
        biggest = upcoming.filter(ends_at__gt=timezone.now()).aggregate(m=Max("capacity"))["m"]
        if biggest is not None and values["max_capacity"] < biggest:
            errors["max_capacity"].append(
                _("An upcoming session here has %(biggest)s seats; lower its capacity first.") % {"biggest": biggest}
            )
    return errors


@transaction.atomic
def venue_create(*, organization: Organization, data: Mapping[str, Any], by: User | None = None) -> Venue:
    """Coordinates and time zone default to the city's."""
    _ensure_organizer(by, organization.id)
    values = {name: data[name] for name in VENUE_FIELDS if name in data and data[name] is not None}
    values["city"] = city = _resolve_city(data.get("city"))
    if city is not None:
        for name in ("latitude", "longitude", "timezone"):
            values.setdefault(name, getattr(city, name))
    values.setdefault("address", "")
    errors = _venue_errors(organization_id=organization.id, values=values)
    if errors:
        raise _invalid(errors)
    return Venue.objects.create(organization=organization, **values)


def _resolve_city(value: Any) -> City | None:
    if value is None or isinstance(value, City):
        return value
    city_id = _ref_id(value)
    return None if city_id is None else City.objects.filter(id=city_id).first()


@transaction.atomic
def venue_update(*, venue: Venue, data: Mapping[str, Any], by: User | None = None) -> Venue:
    """A new time zone carries over to the venue's sessions (their instants stay; local times follow)."""
    _ensure_organizer(by, venue.organization_id)
    venue = Venue.objects.select_for_update(of=("self",)).select_related("city").get(pk=venue.pk)
    values = {name: data[name] for name in VENUE_FIELDS if name in data}
    if "city" in values:
        values["city"] = _resolve_city(values["city"])
        if values["city"] is None:
            raise _invalid({"city": [_("Unknown city.")]})
    merged = {name: getattr(venue, name) for name in VENUE_FIELDS} | values
    errors = _venue_errors(organization_id=venue.organization_id, values=merged, venue=venue)
    if errors:
        raise _invalid(errors)
    changed = _apply(venue, values)
    if changed:
        venue.save(update_fields=changed)
    if "timezone" in changed:
        Session.objects.filter(venue=venue).update(timezone=venue.timezone, updated_at=timezone.now())
    return venue


# --- series --------------------------------------------------------------------------------------

SERIES_FIELDS = (
    "title",
    "slug",
    "description",
    "partners",
    *translation_fields("title"),
    *translation_fields("description"),
)


def _unique_slug(title: str) -> str:
    base = slugify(title)[:100] or "series"
    taken = set(Series.objects.filter(slug__startswith=base).values_list("slug", flat=True))
    if base not in taken:
        return base
    n = 2
    while f"{base}-{n}" in taken:
        n += 1
    return f"{base}-{n}"


def _series_errors(values: Mapping[str, Any], series_id: int | None = None) -> Errors:
    errors: Errors = defaultdict(list)
    if not (values.get("title") or "").strip():
        errors["title"].append(_("This field is required."))
    slug = values.get("slug")
    if slug:
        taken = Series.objects.filter(slug=slug)
        if series_id is not None:
            taken = taken.exclude(id=series_id)
        if taken.exists():
            errors["slug"].append(_("The slug %(slug)s is taken.") % {"slug": repr(slug)})
    partners = values.get("partners")
    if partners is not None and not (isinstance(partners, list) and all(isinstance(p, str) for p in partners)):
        errors["partners"].append(_("A list of names."))
    return errors


@transaction.atomic
def series_create(*, organization: Organization, data: Mapping[str, Any], by: User | None = None) -> Series:
    _ensure_organizer(by, organization.id)
    values = {name: data[name] for name in SERIES_FIELDS if name in data and data[name] is not None}
    errors = _series_errors(values)
    if errors:
        raise _invalid(errors)
    values["slug"] = values.get("slug") or _unique_slug(values["title"])
    return Series.objects.create(organization=organization, **values)


@transaction.atomic
def series_update(*, series: Series, data: Mapping[str, Any], by: User | None = None) -> Series:
    _ensure_organizer(by, series.organization_id)
    series = Series.objects.select_for_update().get(pk=series.pk)
    values = {name: data[name] for name in SERIES_FIELDS if name in data and data[name] is not None}
    merged = {name: getattr(series, name) for name in SERIES_FIELDS} | values
    errors = _series_errors(merged, series.id)
    if errors:
        raise _invalid(errors)
    changed = _apply(series, values)
    if changed:
        series.save(update_fields=changed)
    return series


# --- sessions: validation ------------------------------------------------------------------------


@dataclass
class References:
    """The venues, cities and possible hosts that session data refers to, loaded in three queries."""

    organization_id: int
    venues: dict[int, Venue] = field(default_factory=dict)
    cities: dict[int, City] = field(default_factory=dict)
    member_ids: set[int] = field(default_factory=set)

    @classmethod
    def load(cls, *, organization_id: int, rows: Iterable[Mapping[str, Any]]) -> References:
        venue_ids: set[int] = set()
        city_ids: set[int] = set()
        host_ids: set[int] = set()
        for row in rows:
            for name, ids in (("venue", venue_ids), ("city", city_ids)):
                ref = _ref_id(row.get(name))
                if ref is not None:
                    ids.add(ref)
            host_ids.update(ref for h in row.get("hosts") or () if (ref := _ref_id(h)) is not None)
        refs = cls(organization_id=organization_id)
        if venue_ids:
            refs.venues = {v.id: v for v in Venue.objects.filter(id__in=venue_ids).select_related("city")}
        if city_ids:
            refs.cities = {c.id: c for c in City.objects.filter(id__in=city_ids)}
        if host_ids:
            refs.member_ids = set(
                Membership.objects.filter(organization_id=organization_id, user_id__in=host_ids).values_list(
                    "user_id", flat=True
                )
            )
        return refs


def _clean_session(
    *, values: Mapping[str, Any], refs: References, check_future: bool, now: dt.datetime
) -> tuple[dict[str, Any], Errors]:
    """The complete, checked model values of a session, or field errors.

    Rules: a talk or night shoot needs a venue (a livestream may have only a city); the city is the
    venue's and the time zone is the venue's (or the city's); ends after starts, at most 24 hours later;
    capacity within the venue's maximum (and by default the venue's maximum); hosts belong to the
    organization; priority_opens_at <= registration_opens_at < registration_closes_at <= starts_at.
    """
    errors: Errors = defaultdict(list)
    clean: dict[str, Any] = {}
    kind = values.get("kind") or Session.Kind.TALK
    if kind not in Session.Kind.values:
        errors["kind"].append(_("Choose one of %(kind)s.") % {"kind": ", ".join(Session.Kind.values)})
    clean["kind"] = kind
    title = (values.get("title") or "").strip()
    if not title:
        errors["title"].append(_("This field is required."))
    clean["title"] = title
    clean["description"] = values.get("description") or ""
    # Optional translations of the organizer's texts (project/content.py).
    for name in (*translation_fields("title"), *translation_fields("description")):
        clean[name] = (values.get(name) or "").strip()

    venue_id, city_id = _ref_id(values.get("venue")), _ref_id(values.get("city"))
    venue = city = None
    if venue_id is not None:
        venue = refs.venues.get(venue_id)
        if venue is None or venue.organization_id != refs.organization_id:
            errors["venue"].append(
                _("Unknown venue %(venue_id)s: not a venue of this organization.") % {"venue_id": venue_id}
            )
            venue = None
        else:
            city = venue.city
            if city_id is not None and city_id != venue.city_id:
                errors["city"].append(
                    _("%(name)s is in %(name2)s; leave city out.") % {"name": venue.name, "name2": city.name}
                )
    elif kind != Session.Kind.LIVESTREAM:
        errors["venue"].append(_("A talk or night shoot needs a venue."))
    if venue_id is None and city_id is not None:
        city = refs.cities.get(city_id)
        if city is None or city.organization_id != refs.organization_id:
            errors["city"].append(
                _("Unknown city %(city_id)s: not a city of this organization.") % {"city_id": city_id}
            )
            city = None
    elif venue_id is None and kind == Session.Kind.LIVESTREAM:
        errors["city"].append(_("Give a venue, or a city for a livestream without one."))
    clean["venue"], clean["city"] = venue, city
    clean["timezone"] = venue.timezone if venue else (city.timezone if city else "")

    starts, ends = values.get("starts_at"), values.get("ends_at")
    for name, moment in (("starts_at", starts), ("ends_at", ends)):
        if moment is None:
            errors[name].append(_("This field is required."))
        elif moment.tzinfo is None:
            errors[name].append(_("Give the time in ISO 8601 with an offset, e.g. 2026-12-05T19:30:00+08:00."))
    times_ok = not errors.get("starts_at") and not errors.get("ends_at")
    if times_ok and starts is not None and ends is not None:
        if ends <= starts:
            errors["ends_at"].append(_("Must be after starts_at."))
        elif ends - starts > MAX_SESSION_LENGTH:
            errors["ends_at"].append(_("A session lasts at most 24 hours."))
        if check_future and starts <= now:
            errors["starts_at"].append(_("Must be in the future."))
    clean["starts_at"], clean["ends_at"] = starts, ends

    capacity = values.get("capacity")
    if capacity is None:
        capacity = venue.max_capacity if venue else 0
    if not isinstance(capacity, int) or capacity < 0:
        errors["capacity"].append(_("A whole number, zero or more."))
    elif venue is not None and capacity > venue.max_capacity:
        errors["capacity"].append(
            _("%(name)s holds at most %(max_capacity)s.") % {"name": venue.name, "max_capacity": venue.max_capacity}
        )
    clean["capacity"] = capacity

    priority, opens, closes = (
        values.get("priority_opens_at"),
        values.get("registration_opens_at"),
        values.get("registration_closes_at"),
    )
    if opens is not None and closes is not None and closes <= opens:
        errors["registration_closes_at"].append(_("Must be after registration_opens_at."))
    if times_ok and closes is not None and closes > starts:
        errors["registration_closes_at"].append(_("Registration must close by starts_at."))
    if times_ok and opens is not None and opens >= starts:
        errors["registration_opens_at"].append(_("Must be before starts_at."))
    if priority is not None and opens is None:
        errors["priority_opens_at"].append(_("Set registration_opens_at too: priority access comes before it."))
    elif priority is not None and priority > opens:
        errors["priority_opens_at"].append(_("Must not be after registration_opens_at."))
    clean["priority_opens_at"], clean["registration_opens_at"], clean["registration_closes_at"] = (
        priority,
        opens,
        closes,
    )
    clean["waitlist_enabled"] = bool(values.get("waitlist_enabled", True))
    _clean_fair_access(values=values, clean=clean, errors=errors, starts=starts if times_ok else None)

    host_ids = list(dict.fromkeys(_ref_id(h) for h in values.get("hosts") or ()))
    strangers = [h for h in host_ids if h not in refs.member_ids]
    if strangers:
        errors["hosts"].append(
            _("Not hosts of this organization: %(strangers)s.") % {"strangers": ", ".join(_people(strangers))}
        )
    clean["hosts"] = host_ids
    return clean, errors


def _whole(value: Any, default: int) -> int | None:
    value = default if value is None else value
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _clean_fair_access(*, values: Mapping[str, Any], clean: dict[str, Any], errors: Errors, starts) -> None:
    """Allocation, parties, offers and the draw's times: entries open < entries close <= draw <= start
    (the draw defaults to the close of entries)."""
    allocation = values.get("allocation") or Session.Allocation.FIRST_COME
    if allocation not in Session.Allocation.values:
        errors["allocation"].append(_("Choose one of %(kind)s.") % {"kind": ", ".join(Session.Allocation.values)})
    clean["allocation"] = allocation
    for name, default, low, high in (
        ("max_party_size", 1, 1, MAX_PARTY_SIZE),
        ("offer_hold_minutes", 0, 0, 7 * 24 * 60),
        ("offer_cutoff_minutes", 0, 0, 7 * 24 * 60),
    ):
        number = _whole(values.get(name), default)
        if number is None or not low <= number <= high:
            errors[name].append(_("A whole number from %(low)s to %(high)s.") % {"low": low, "high": high})
        clean[name] = number if number is not None else default
    clean["draw_new_accounts"] = bool(values.get("draw_new_accounts", True))
    opens, closes = values.get("entry_opens_at"), values.get("entry_closes_at")
    draw_at = values.get("draw_at") or closes
    if allocation == Session.Allocation.DRAW:
        for name, moment in (("entry_opens_at", opens), ("entry_closes_at", closes)):
            if moment is None:
                errors[name].append(_("A draw needs it."))
    if opens is not None and closes is not None and closes <= opens:
        errors["entry_closes_at"].append(_("Must be after entry_opens_at."))
    if closes is not None and draw_at is not None and draw_at < closes:
        errors["draw_at"].append(_("Must not be before entry_closes_at."))
    if starts is not None and draw_at is not None and draw_at > starts:
        errors["draw_at"].append(_("Must be before starts_at."))
    clean["entry_opens_at"], clean["entry_closes_at"], clean["draw_at"] = opens, closes, draw_at


def _people(user_ids: Sequence[int | None]) -> list[str]:
    """People by name for a message ("Wang Lei", not "3"); an unknown id stays a number."""
    names = {u.id: u.get_full_name() or u.username for u in User.objects.filter(id__in=[i for i in user_ids if i])}
    return [names.get(i, str(i)) if i else str(i) for i in user_ids]


def _slot(
    clean: Mapping[str, Any], *, key: str, organization_id: int, session_id: int | None = None, row: int | None = None
):
    return conflicts.slot_at(
        key=key,
        session_id=session_id,
        row=row,
        title=clean["title"],
        kind=clean["kind"],
        starts_at=clean["starts_at"],
        ends_at=clean["ends_at"],
        venue=clean["venue"],
        city=clean["city"],
        timezone=clean["timezone"],
        host_ids=clean["hosts"],
        organization_id=organization_id,
    )


def _lock_schedule(*, venue_ids: Iterable[int], host_ids: Iterable[int]) -> None:
    """Serialize scheduling per venue and per host: two organizers booking the same venue or host at
    once would both pass the conflict check otherwise. Lock order: session, venues, users (by id)."""
    venue_ids, host_ids = sorted(set(venue_ids)), sorted(set(host_ids))
    if venue_ids:
        list(Venue.objects.select_for_update().filter(id__in=venue_ids).order_by("id").values_list("id"))
    if host_ids:
        list(User.objects.select_for_update().filter(id__in=host_ids).order_by("id").values_list("id"))


def _raise_conflicts(slot: conflicts.Slot, found: Sequence[conflicts.Conflict]) -> None:
    mine = [c for c in found if c.involves(slot)]
    if not mine:
        return
    fields: Errors = defaultdict(list)
    for conflict in mine:
        fields[conflict.field].append(conflict.message_for(slot))
    raise ApplicationError(
        mine[0].message_for(slot),
        code="conflict",
        fields=dict(fields),
        extra={"conflict": mine[0].as_dict(slot), "conflicts": [c.as_dict(slot) for c in mine]},
    )


def _check_conflicts(clean: Mapping[str, Any], *, organization_id: int, session_id: int | None) -> None:
    """Call inside the transaction that writes the session."""
    key = f"s{session_id}" if session_id else "new"
    slot = _slot(clean, key=key, organization_id=organization_id, session_id=session_id)
    _lock_schedule(venue_ids=[slot.venue_id] if slot.venue_id else [], host_ids=slot.host_ids)
    exclude = Q(id=session_id) if session_id else None
    _raise_conflicts(slot, conflicts.conflicts_of_slots([slot], exclude=exclude))


def _current_values(session: Session) -> dict[str, Any]:
    values = {name: getattr(session, name) for name in SESSION_FIELDS if name not in ("hosts", "venue", "city")}
    values["venue"], values["city"] = session.venue_id, session.city_id
    values["hosts"] = list(session.hosts.order_by("id").values_list("id", flat=True))
    return values


# --- sessions: writes ----------------------------------------------------------------------------


@transaction.atomic
def session_create(*, series: Series, data: Mapping[str, Any], by: User | None = None) -> Session:
    """A new draft session. ``data`` holds SESSION_FIELDS; venue/city/hosts as ids or instances."""
    _ensure_organizer(by, series.organization_id)
    values = {name: data[name] for name in SESSION_FIELDS if name in data}
    refs = References.load(organization_id=series.organization_id, rows=[values])
    clean, errors = _clean_session(values=values, refs=refs, check_future=True, now=timezone.now())
    if errors:
        raise _invalid(errors)
    _check_conflicts(clean, organization_id=series.organization_id, session_id=None)
    host_ids = clean.pop("hosts")
    session = Session.objects.create(series=series, status=Session.Status.DRAFT, **clean)
    if host_ids:
        session.hosts.set(host_ids)
    return session


@transaction.atomic
def session_update(*, session: Session, data: Mapping[str, Any], by: User | None = None) -> Session:
    """Edit, reschedule (time, venue) or resize a session; returns the updated session.

    Registrations are kept. A new time or place bumps ``sequence`` and is announced
    (``hooks.session_moved``: every confirmed and waitlisted fan gets a notice from the outbox).
    Capacity is changed under the session row lock: it cannot go below the confirmed seats, and a raise
    promotes waitlisted fans in the same transaction (``hooks.session_capacity_raised``).
    """
    locked = Session.objects.select_for_update(of=("self",)).select_related("series").get(pk=session.pk)
    _ensure_organizer(by, locked.series.organization_id)
    if locked.status == Session.Status.CANCELLED:
        raise ApplicationError(_("A cancelled session cannot be changed."), code="cancelled")
    current = _current_values(locked)
    values = {name: data[name] for name in SESSION_FIELDS if name in data}
    if "venue" in values and "city" not in values and _ref_id(values["venue"]) is not None:
        current["city"] = None  # the city follows the new venue
    merged = current | values
    organization_id = locked.series.organization_id
    refs = References.load(organization_id=organization_id, rows=[merged])
    time_moved = any(_differs(merged[name], current[name]) for name in TIME_FIELDS)
    closes = merged.get("registration_closes_at")
    starts = merged.get("starts_at")
    if time_moved and "registration_closes_at" not in values and closes and starts and closes > starts:
        # Moved earlier than registration was due to close: it now closes at the new start.
        merged["registration_closes_at"] = starts
    clean, errors = _clean_session(values=merged, refs=refs, check_future=time_moved, now=timezone.now())
    if errors:
        raise _invalid(errors)
    if clean["capacity"] < locked.confirmed_count + locked.offered_count:
        raise ApplicationError(
            _("%(confirmed_count)s seats are already confirmed; capacity cannot go below that.")
            % {"confirmed_count": locked.confirmed_count + locked.offered_count},
            code="capacity_below_confirmed",
            fields={
                "capacity": [
                    _("At least %(confirmed_count)s (the confirmed seats).")
                    % {"confirmed_count": locked.confirmed_count}
                ]
            },
            extra={"confirmed_count": locked.confirmed_count},
        )

    before = {
        "starts_at": locked.starts_at,
        "ends_at": locked.ends_at,
        "timezone": locked.timezone,
        "place": (locked.venue, locked.city),
    }
    host_ids = clean.pop("hosts")
    hosts_changed = sorted(host_ids) != sorted(current["hosts"])
    model_values = dict(clean)
    changed = _apply(locked, model_values)
    if any(name in changed for name in SCHEDULE_FIELDS) or hosts_changed:
        _check_conflicts(clean | {"hosts": host_ids}, organization_id=organization_id, session_id=locked.id)
    moved = any(name in changed for name in (*TIME_FIELDS, *PLACE_FIELDS))
    if moved:
        locked.sequence += 1
        changed.append("sequence")
        if locked.status == Session.Status.PUBLISHED:
            changed += _record_move(locked, before)
    capacity_raised = "capacity" in changed and locked.capacity > current["capacity"]
    if changed:
        locked.save(update_fields=[*changed, "updated_at"])
    if hosts_changed:
        locked.hosts.set(host_ids)
        if not changed:
            locked.save(update_fields=["updated_at"])
    if capacity_raised:
        # registrations promotes waitlisted fans into the new seats (and notices tells them).
        hooks.session_capacity_raised.send(session=locked)
    if moved:
        hooks.session_moved.send(session=locked, previous=before)
    return locked


def _record_move(session: Session, before: Mapping[str, Any]) -> list[str]:
    """Remembers where a published session was, for the pages' "moved from ..."."""
    session.moved_at = timezone.now()
    session.moved_from_starts_at = before["starts_at"]
    session.moved_from_timezone = before["timezone"]
    session.moved_from_venue = before["place"][0]
    return ["moved_at", "moved_from_starts_at", "moved_from_timezone", "moved_from_venue"]


def _differs(a: Any, b: Any) -> bool:
    return _ref_id(a) != _ref_id(b) if isinstance(a, Model) or isinstance(b, Model) else a != b


@transaction.atomic
def session_publish(*, session: Session, by: User | None = None) -> Session:
    """Draft -> published, once the session passes every rule and conflict check again (other sessions
    may have moved since it was drafted). Publishing a published session changes nothing."""
    locked = Session.objects.select_for_update(of=("self",)).select_related("series").get(pk=session.pk)
    _ensure_organizer(by, locked.series.organization_id)
    if locked.status == Session.Status.CANCELLED:
        raise ApplicationError(_("A cancelled session cannot be published."), code="cancelled")
    if locked.status == Session.Status.PUBLISHED:
        return locked
    current = _current_values(locked)
    refs = References.load(organization_id=locked.series.organization_id, rows=[current])
    clean, errors = _clean_session(values=current, refs=refs, check_future=True, now=timezone.now())
    if errors:
        raise _invalid(errors)
    _check_conflicts(clean, organization_id=locked.series.organization_id, session_id=locked.id)
    locked.status = Session.Status.PUBLISHED
    locked.save(update_fields=["status", "updated_at"])
    hooks.session_scheduled.send(session=locked)
    return locked


@transaction.atomic
def session_cancel(*, session: Session, reason: str, by: User | None = None) -> Session:
    """Cancel, keeping every registration (fans keep their history and check-in codes stay void with
    the session). Bumps ``sequence`` so calendars show STATUS:CANCELLED, and announces it
    (``hooks.session_cancelled``: every confirmed and waitlisted fan gets a notice from the outbox).
    Cancelling a cancelled session changes nothing and tells no one."""
    locked = Session.objects.select_for_update(of=("self",)).select_related("series").get(pk=session.pk)
    _ensure_organizer(by, locked.series.organization_id)
    reason = (reason or "").strip()
    if not reason:
        raise _invalid({"reason": [_("Tell the fans why (it goes into their email).")]})
    if locked.status == Session.Status.CANCELLED:
        return locked
    locked.status = Session.Status.CANCELLED
    locked.cancel_reason = reason
    locked.sequence += 1
    locked.save(update_fields=["status", "cancel_reason", "sequence", "updated_at"])
    hooks.session_cancelled.send(session=locked)
    return locked


# --- bulk plan -----------------------------------------------------------------------------------


@dataclass
class PlanResult:
    dry_run: bool
    sessions: list[Session]

    @property
    def created(self) -> int:
        return 0 if self.dry_run else len(self.sessions)


@transaction.atomic
def series_plan_import(
    *,
    series: Series,
    rows: Sequence[Mapping[str, Any] | None],
    row_errors: Mapping[int, Mapping[str, list[str]]] | None = None,
    by: User | None = None,
    dry_run: bool = False,
    first_row: int = 0,
) -> PlanResult:
    """Create a whole plan of draft sessions, all or nothing.

    ``rows`` are typed session data (as for ``session_create``); ``row_errors`` are errors the caller
    already found while parsing (such rows are ``None``). Every row is checked by the session rules and
    against every other row and every saved session for conflicts; any error anywhere raises one
    ``ApplicationError`` naming every bad row: ``{"rows": {"<index>": {field: [messages]}}}``.
    With ``dry_run`` nothing is written (the returned sessions are unsaved). ``first_row`` is the
    number conflict messages give the first row (2 for a spreadsheet's first row under its header).
    """
    _ensure_organizer(by, series.organization_id)
    if not rows:
        raise _invalid({"rows": [_("The plan has no sessions.")]})
    if len(rows) > MAX_PLAN_ROWS:
        raise _invalid(
            {"rows": [_("At most %(max_plan_rows)s sessions in one plan.") % {"max_plan_rows": MAX_PLAN_ROWS}]}
        )
    errors: dict[int, Errors] = defaultdict(lambda: defaultdict(list))
    for index, row_error in (row_errors or {}).items():
        for name, messages in row_error.items():
            errors[index][name].extend(messages)
    refs = References.load(
        organization_id=series.organization_id, rows=[r for i, r in enumerate(rows) if r and i not in errors]
    )
    now = timezone.now()
    cleaned: dict[int, dict[str, Any]] = {}
    for index, row in enumerate(rows):
        if row is None or index in errors:
            continue
        clean, row_errs = _clean_session(values=row, refs=refs, check_future=True, now=now)
        if row_errs:
            errors[index] = row_errs
        else:
            cleaned[index] = clean

    slots = [
        dataclasses.replace(
            _slot(clean, key=f"r{index}", row=index, organization_id=series.organization_id), row_base=first_row
        )
        for index, clean in cleaned.items()
    ]
    if not dry_run:
        _lock_schedule(
            venue_ids={s.venue_id for s in slots if s.venue_id}, host_ids={h for s in slots for h in s.host_ids}
        )
    conflict_details: dict[int, list[dict[str, Any]]] = defaultdict(list)
    only_conflicts = not errors
    for conflict in conflicts.conflicts_of_slots(slots):
        for slot in (conflict.a, conflict.b):
            if slot is not None and slot.row is not None:
                errors[slot.row][conflict.field].append(conflict.message_for(slot))
                conflict_details[slot.row].append(conflict.as_dict(slot))

    if errors:
        rows_out = {str(index): dict(errors[index]) for index in sorted(errors)}
        raise ApplicationError(
            _("%(rows_out)s of %(rows)s rows cannot be planned; nothing was saved.")
            % {"rows_out": len(rows_out), "rows": len(rows)},
            code="conflict" if only_conflicts else "invalid",
            fields={"rows": rows_out},
            extra={"rows": rows_out, "conflicts": {str(i): c for i, c in sorted(conflict_details.items())}},
        )

    sessions, hosts_of = [], []
    for index in sorted(cleaned):
        values = dict(cleaned[index])
        hosts_of.append(values.pop("hosts"))
        session = Session(series=series, status=Session.Status.DRAFT, **values)
        session.planned_host_ids = hosts_of[-1]  # type: ignore[attr-defined]  # a planned row's hosts, unsaved
        sessions.append(session)
    if dry_run:
        return PlanResult(dry_run=True, sessions=sessions)
    created = Session.objects.bulk_create(sessions)
    Through = Session.hosts.through
    Through.objects.bulk_create(
        [
            Through(session_id=session.id, user_id=host_id)
            for session, ids in zip(created, hosts_of, strict=True)
            for host_id in ids
        ]
    )
    return PlanResult(dry_run=False, sessions=created)


# --- a whole series ------------------------------------------------------------------------------


@transaction.atomic
def series_publish(*, series: Series, by: User | None = None) -> list[Session]:
    """Publish every draft of the series at once (e.g. after a plan import), all or nothing: each
    draft must pass the session rules and have no conflict with any other non-cancelled session.
    A 400 names every bad session: ``{"sessions": {"<id>": {field: [messages]}}}``."""
    _ensure_organizer(by, series.organization_id)
    drafts = list(
        Session.objects.select_for_update(of=("self",))
        .filter(series=series, status=Session.Status.DRAFT)
        .select_related("city", "venue")
        .order_by("id")
    )
    if not drafts:
        return []
    hosts_of: dict[int, list[int]] = defaultdict(list)
    for session_id, user_id in Session.hosts.through.objects.filter(session__in=drafts).values_list(
        "session_id", "user_id"
    ):
        hosts_of[session_id].append(user_id)
    rows = []
    for session in drafts:
        values = {name: getattr(session, name) for name in SESSION_FIELDS if name not in ("hosts", "venue", "city")}
        rows.append(values | {"venue": session.venue_id, "city": session.city_id, "hosts": hosts_of[session.id]})
    refs = References.load(organization_id=series.organization_id, rows=rows)
    now = timezone.now()
    errors: dict[str, Errors] = {}
    slots = []
    for session, values in zip(drafts, rows, strict=True):
        clean, session_errors = _clean_session(values=values, refs=refs, check_future=True, now=now)
        if session_errors:
            errors[str(session.id)] = session_errors
        else:
            slots.append(
                _slot(clean, key=f"s{session.id}", session_id=session.id, organization_id=series.organization_id)
            )
    _lock_schedule(venue_ids={s.venue_id for s in slots if s.venue_id}, host_ids={h for s in slots for h in s.host_ids})
    only_conflicts = not errors
    draft_ids = [s.id for s in drafts]
    for conflict in conflicts.conflicts_of_slots(slots, exclude=Q(id__in=draft_ids)):
        for slot in (conflict.a, conflict.b):
            if slot is not None and slot.session_id in draft_ids:
                errors.setdefault(str(slot.session_id), defaultdict(list))[conflict.field].append(
                    conflict.message_for(slot)
                )
    if errors:
        out = {key: dict(value) for key, value in errors.items()}
        raise ApplicationError(
            _("%(out)s of %(drafts)s drafts cannot be published; nothing was published.")
            % {"out": len(out), "drafts": len(drafts)},
            code="conflict" if only_conflicts else "invalid",
            fields={"sessions": out},
            extra={"sessions": out},
        )
    Session.objects.filter(id__in=draft_ids).update(status=Session.Status.PUBLISHED, updated_at=timezone.now())
    for session in drafts:
        session.status = Session.Status.PUBLISHED
        hooks.session_scheduled.send(session=session)
    return drafts


@transaction.atomic
def series_cancel(*, series: Series, reason: str, by: User | None = None) -> list[Session]:
    """Cancel every session of the series that is not cancelled yet (each as ``session_cancel``:
    registrations kept, sequence bumped, fans told through the outbox)."""
    _ensure_organizer(by, series.organization_id)
    if not (reason or "").strip():
        raise _invalid({"reason": [_("Tell the fans why (it goes into their email).")]})
    live = Session.objects.filter(series=series).exclude(status=Session.Status.CANCELLED).order_by("id")
    return [session_cancel(session=session, reason=reason, by=by) for session in live]
