"""The whole demo program (``manage.py load_demo``): each room loads its own part, planning first.

It lives in the top room because it calls every room below: events plans the organization, the
accounts, the places and the month of sessions (``events.demo``); streams adds the grotto night
tour's stream (``streams.demo``) and registrations its priority codes (``registrations.demo``).
All or nothing, and idempotent: a second run finds the series by its slug and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.contrib.auth.models import Permission
from django.db import transaction

from accounts.models import User
from events.demo import DemoProgram, demo_program_load
from registrations.demo import demo_codes_create
from streams.demo import demo_stream_create


@transaction.atomic
def load_demo(*, today: dt.date | None = None) -> DemoProgram:
    program = demo_program_load(today=today)
    _grant_admin_permissions(program.users["organizer"])
    planned = program.planned
    if planned is None:
        return program
    demo_stream_create(organization=program.organization, session=planned.grotto_session, hosts=planned.grotto_hosts)
    demo_codes_create(
        organization=program.organization,
        series=program.series,
        grotto_session=planned.grotto_session,
        month_start=planned.month_start,
        drawn_session=planned.drawn_session,
    )
    return program


def _grant_admin_permissions(user: User) -> None:
    """The organizer plans in the admin too: every permission on the planning models."""
    perms = Permission.objects.filter(content_type__app_label__in=["events", "registrations", "streams"])
    user.user_permissions.add(*perms)
