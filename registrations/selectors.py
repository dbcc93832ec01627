"""Reads of seats and registrations, for this app and for the others (calendars, emails)."""

from django.db.models import QuerySet

from accounts.models import User
from events.models import Session
from registrations.models import Registration

ACTIVE_STATUSES = (Registration.Status.CONFIRMED, Registration.Status.WAITLISTED)


def registrations_of_fan(*, fan: User, statuses=ACTIVE_STATUSES) -> QuerySet[Registration]:
    return (
        Registration.objects.filter(fan=fan, status__in=statuses)
        .select_related("session", "session__venue", "session__city")
        .order_by("session__starts_at", "id")
    )


def active_registrations_of_session(*, session: Session) -> QuerySet[Registration]:
    """Confirmed and waitlisted registrations: the fans to tell when a session changes."""
    return Registration.objects.filter(session=session, status__in=ACTIVE_STATUSES).select_related("fan")
