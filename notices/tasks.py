"""The notices room's background jobs (declared on django-tasks through ``project.jobs``)."""

from __future__ import annotations

from notices import delivery
from project import jobs


@jobs.job
def deliver_notices(notice_ids: list[int]) -> dict[str, int]:
    """Email these notices (those not delivered yet); returns counts by outcome."""
    return delivery.deliver(notice_ids=notice_ids)
