"""The notices room's background jobs (declared on django-tasks through ``project.jobs``)."""

from __future__ import annotations

from notices import delivery
from project import jobs


@jobs.job
def deliver_notices(notice_ids: list[int]) -> dict[str, int]:
    """Email these notices (those not delivered yet); returns counts by outcome."""
    return delivery.deliver(notice_ids=notice_ids)


@jobs.job
def send_reminders(session_id: int, hours: float, sequence: int) -> int:
    """The reminders of one session, ``hours`` before it (see ``notices.reminders``)."""
    from notices.reminders import reminders_send

    return reminders_send(session_id=session_id, hours=hours, sequence=sequence)
