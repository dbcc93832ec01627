"""Reads of the plan. Visibility rules live here so that every API, page and feed agrees."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db.models import F, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Organization, User
from accounts.selectors import is_organizer_of, organizer_organization_ids
from events import conflicts
from events.models import City, Series, Session, Venue
from project.errors import ApplicationError


def city_list() -> QuerySet[City]:
    return City.objects.all().order_by("name", "id")


def venue_list() -> QuerySet[Venue]:
    return Venue.objects.select_related("city").order_by("city__name", "name", "id")


def series_list() -> QuerySet[Series]:
    return Series.objects.select_related("organization").order_by("-created_at", "id")


def sessions_visible_to(*, user: User | AnonymousUser) -> QuerySet[Session]:
    """Published and cancelled sessions for everyone; drafts only for the organizers of their
    organization and for the session's own hosts."""
    qs = Session.objects.all()
    org_ids = organizer_organization_ids(user=user)
    if org_ids is None:
        return qs
    public = ~Q(status=Session.Status.DRAFT)
    if not user.is_authenticated:
        return qs.filter(public)
    return qs.filter(public | Q(series__organization_id__in=org_ids) | Q(hosts=user)).distinct()


@dataclass(frozen=True)
class SessionFilters:
    series: int | None = None
    city: int | None = None
    kind: str | None = None
    starts_after: dt.datetime | None = None
    starts_before: dt.datetime | None = None
    available: bool | None = None
    q: str | None = None
    status: str | None = None


def session_list(*, user: User | AnonymousUser, filters: SessionFilters | None = None) -> QuerySet[Session]:
    """Sessions in start order, with everything a list shows fetched up front (constant queries)."""
    filters = filters or SessionFilters()
    qs = sessions_visible_to(user=user)
    if filters.series is not None:
        qs = qs.filter(series_id=filters.series)
    if filters.city is not None:
        qs = qs.filter(city_id=filters.city)
    if filters.kind:
        qs = qs.filter(kind=filters.kind)
    if filters.status:
        qs = qs.filter(status=filters.status)
    if filters.starts_after is not None:
        qs = qs.filter(starts_at__gte=filters.starts_after)
    if filters.starts_before is not None:
        qs = qs.filter(starts_at__lt=filters.starts_before)
    if filters.available is True:
        qs = qs.filter(status=Session.Status.PUBLISHED, confirmed_count__lt=F("capacity"), starts_at__gt=timezone.now())
    elif filters.available is False:
        qs = qs.exclude(
            Q(status=Session.Status.PUBLISHED, confirmed_count__lt=F("capacity"), starts_at__gt=timezone.now())
        )
    if filters.q:
        term = filters.q.strip()
        qs = qs.filter(
            Q(title__icontains=term)
            | Q(description__icontains=term)
            | Q(city__name__icontains=term)
            | Q(city__local_name__icontains=term)
            | Q(venue__name__icontains=term)
        )
    return qs.select_related("city", "venue", "stream").prefetch_related("hosts").order_by("starts_at", "id")


def timezones_in_use() -> list[str]:
    """The IANA zones of all sessions (a handful: one per region the program runs in)."""
    return list(Session.objects.order_by().values_list("timezone", flat=True).distinct())


def session_get(*, user: User | AnonymousUser, session_id: int) -> Session:
    return session_list(user=user).get(id=session_id)


def calendar_sessions_of_series(*, series_id: int, city_id: int | None = None) -> QuerySet[Session]:
    """The sessions of a series' public calendar: published and cancelled ones (a cancelled session
    stays so that subscribers see STATUS:CANCELLED), with all a feed shows in five queries.
    Series, organization, cities and venues are prefetched rather than joined: a feed has few of
    them, and one shared instance each costs far less than one per session row."""
    qs = Session.objects.filter(series_id=series_id, status__in=[Session.Status.PUBLISHED, Session.Status.CANCELLED])
    if city_id is not None:
        qs = qs.filter(city_id=city_id)
    return (
        qs.select_related("stream")
        .prefetch_related("series__organization", "city", "venue")
        .order_by("starts_at", "id")
    )


def organization_for_new(*, user: User, organization_id: int | None) -> Organization:
    """The organization a new city, venue or series belongs to. It may be left out by an organizer of
    exactly one organization; naming one the user does not organize is a 403."""
    if organization_id is not None:
        organization = Organization.objects.filter(id=organization_id).first()
        if organization is None:
            raise ApplicationError(
                _("Unknown organization %(organization_id)s.") % {"organization_id": organization_id},
                fields={"organization": [_("Unknown organization.")]},
            )
        if not is_organizer_of(user=user, organization_id=organization.id):
            raise ApplicationError(
                _("Only organizers of this organization may plan for it."), code="permission_denied", status_code=403
            )
        return organization
    ids = organizer_organization_ids(user=user)
    if ids is not None and len(ids) == 1:
        return Organization.objects.get(id=next(iter(ids)))
    raise ApplicationError(
        _("Say which organization this belongs to."),
        fields={"organization": [_("Required: you organize more than one organization.")]},
    )


def series_conflict_list(*, series: Series, loaded: list[Session] | None = None) -> list[conflicts.Conflict]:
    """Every conflict of the series' non-cancelled sessions, drafts included (a constant number of
    queries, see events.conflicts). ``loaded``: every session of the series, as
    ``series_sessions_for_board`` returns them, so they are not read again."""
    return conflicts.series_conflicts(series_id=series.id, loaded=loaded)


def series_for_planner(*, user: User | AnonymousUser, series_id: int) -> Series:
    """A series its organizers plan; anyone else gets Series.DoesNotExist (the page says 404)."""
    org_ids = organizer_organization_ids(user=user)
    qs = Series.objects.select_related("organization")
    if org_ids is not None:
        qs = qs.filter(organization_id__in=org_ids)
    return qs.get(id=series_id)


def series_planned_by(*, user: User | AnonymousUser) -> QuerySet[Series]:
    org_ids = organizer_organization_ids(user=user)
    qs = series_list()
    return qs if org_ids is None else qs.filter(organization_id__in=org_ids)


def series_sessions_for_board(*, series: Series) -> list[Session]:
    """Every session of the series, drafts and cancelled ones included, in start order, with city,
    venue, stream and hosts: three queries whatever the number of sessions."""
    sessions = list(
        Session.objects.filter(series=series)
        .select_related("city", "venue", "stream")
        .prefetch_related("hosts")
        .order_by("starts_at", "id")
    )
    for session in sessions:
        session.series = series  # one shared instance, no query
    return sessions


def session_for_planner(*, user: User | AnonymousUser, session_id: int) -> Session:
    """A session its organizers may change; anyone else gets Session.DoesNotExist."""
    org_ids = organizer_organization_ids(user=user)
    qs = Session.objects.select_related("series", "city", "venue", "stream")
    if org_ids is not None:
        qs = qs.filter(series__organization_id__in=org_ids)
    return qs.get(id=session_id)


def cities_of_organization(*, organization_id: int) -> list[City]:
    return list(City.objects.filter(organization_id=organization_id).order_by("name", "id"))


def venues_of_organization(*, organization_id: int) -> list[Venue]:
    return list(
        Venue.objects.filter(organization_id=organization_id).select_related("city").order_by("city__name", "name")
    )


def sessions_hosted_by(*, user: User, since: dt.datetime) -> list[Session]:
    """The sessions a person hosts that end after ``since``, in start order, with what a host's
    home shows (series, city, venue, stream): one query."""
    return list(
        Session.objects.filter(hosts=user, ends_at__gt=since)
        .select_related("series", "city", "venue", "stream")
        .order_by("starts_at", "id")
    )


def hosts_any_session(*, user: User | AnonymousUser) -> bool:
    return user.is_authenticated and Session.objects.filter(hosts=user).exists()
