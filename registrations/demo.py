"""The registrations part of the demo program (``frontend.demo.load_demo``): its priority codes."""

from __future__ import annotations

import datetime as dt

from accounts.models import Organization
from events.demo import BEIJING
from events.models import Series, Session
from registrations.models import PriorityCode


def demo_codes_create(
    *,
    organization: Organization,
    series: Series,
    grotto_session: Session,
    month_start: dt.date,
    drawn_session: Session | None,
) -> None:
    """The core fans' code for the whole series, a VIP code for the grotto night tour, five
    single-use fan codes, and a code that weighs 3 in the drawn night shoot's draw."""
    month_end = dt.datetime.combine(month_start + dt.timedelta(days=31), dt.time(0, 0), tzinfo=BEIJING)
    PriorityCode.objects.create(
        organization=organization, series=series, code="STARLIGHT-CORE", max_uses=500, expires_at=month_end
    )
    PriorityCode.objects.create(
        organization=organization, session=grotto_session, code="LONGMEN-VIP", max_uses=40, expires_at=month_end
    )
    for n in range(1, 6):
        PriorityCode.objects.create(
            organization=organization,
            series=series,
            code=f"FAN-{n:04d}",
            max_uses=1,
            expires_at=month_end,
            batch="demo-fans",
        )
    if drawn_session is not None:
        PriorityCode.objects.create(
            organization=organization, session=drawn_session, code="DRAW-CORE", max_uses=50, weight=3, batch="demo-draw"
        )
