"""The registrations room's background jobs (declared on django-tasks through ``project.jobs``)."""

from __future__ import annotations

from project import jobs


@jobs.job
def expire_offer(registration_id: int) -> bool:
    """At an offer's deadline: withdraw it if still unanswered and pass the seats on."""
    from registrations.services import offer_expire

    return offer_expire(registration_id=registration_id)


@jobs.job
def run_draw(session_id: int) -> bool:
    """At ``draw_at``: run the session's draw, once (a draw moved later plans itself again)."""
    from registrations.draws import draw_run_when_due

    return draw_run_when_due(session_id=session_id)
