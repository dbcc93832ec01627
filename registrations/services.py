"""Seats: the only code that changes Session.confirmed_count / waitlist_count."""

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from events.models import Session
from registrations.models import Registration


@transaction.atomic
def waitlist_fill(*, session: Session) -> list[Registration]:
    """Promote the first waitlisted fans into free seats and close the gaps in the waitlist.

    Call while holding the session row lock (``select_for_update``) with ``session`` fresh from it.
    Returns the promoted registrations (the caller tells them, after commit).
    """
    free = session.capacity - session.confirmed_count
    if free <= 0 or session.waitlist_count == 0:
        return []
    promoted = list(
        Registration.objects.filter(session=session, status=Registration.Status.WAITLISTED).order_by(
            "waitlist_position"
        )[:free]
    )
    if not promoted:
        return []
    now = timezone.now()
    Registration.objects.filter(id__in=[r.id for r in promoted]).update(
        status=Registration.Status.CONFIRMED, waitlist_position=None, updated_at=now
    )
    Registration.objects.filter(session=session, status=Registration.Status.WAITLISTED).update(
        waitlist_position=F("waitlist_position") - len(promoted)
    )
    Session.objects.filter(id=session.id).update(
        confirmed_count=F("confirmed_count") + len(promoted), waitlist_count=F("waitlist_count") - len(promoted)
    )
    session.refresh_from_db(fields=["confirmed_count", "waitlist_count"])
    for registration in promoted:
        registration.status = Registration.Status.CONFIRMED
        registration.waitlist_position = None
    return promoted
