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


@jobs.job
def fan_out_message(message_id: int, fan_ids: list[int]) -> int:
    """Write an organizer message's notices for these recipients (see ``notices.messages``)."""
    from notices.messages import message_fan_out

    return message_fan_out(message_id=message_id, fan_ids=fan_ids)


@jobs.job
def tell_draw_results(session_id: int) -> int:
    """Tell every entry of a drawn session its result (``notices.handlers.draw_results_tell``)."""
    from notices.handlers import draw_results_tell

    return draw_results_tell(session_id=session_id)


@jobs.job
def tell_seats(kind: str, session_id: int, parties: list, at: str) -> int:
    """Tell parties given or offered seats (``notices.handlers.seats_tell``)."""
    from notices.handlers import seats_tell

    return seats_tell(kind=kind, session_id=session_id, parties=parties, at=at)
