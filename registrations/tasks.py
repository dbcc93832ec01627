"""The registrations room's background jobs (declared on django-tasks through ``project.jobs``)."""

from __future__ import annotations

from project import jobs


@jobs.job
def expire_offer(registration_id: int) -> bool:
    """At an offer's deadline: withdraw it if still unanswered and pass the seats on."""
    from registrations.services import offer_expire

    return offer_expire(registration_id=registration_id)
