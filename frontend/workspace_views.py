"""The organizers' and hosts' workspace (issue 12): the month board, session forms, the door.
Reads go through frontend.workspace_selectors; writes through the same services as the API."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _

from events import selectors as event_selectors
from events.models import Series, Session
from frontend import workspace_selectors as selectors
from registrations import selectors as registration_selectors
from registrations import services as registration_services

LOGIN_URL = "/accounts/login/"


def _series_or_404(request: HttpRequest, series_id: int) -> Series:
    try:
        return event_selectors.series_for_planner(user=request.user, series_id=series_id)
    except Series.DoesNotExist as exc:
        raise Http404(_("No such series among those you plan.")) from exc


@login_required(login_url=LOGIN_URL)
def plan_index(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "frontend/workspace/plan_index.html",
        {"series_list": event_selectors.series_planned_by(user=request.user)},
    )


@login_required(login_url=LOGIN_URL)
def plan_board(request: HttpRequest, series_id: int) -> HttpResponse:
    city = request.GET.get("city")
    city_id = int(city) if city and city.isdigit() else None
    try:
        board = selectors.month_board(user=request.user, series_id=series_id, city_id=city_id)
    except Series.DoesNotExist as exc:
        raise Http404(_("No such series among those you plan.")) from exc
    return render(
        request, "frontend/workspace/board.html", {"board": board, "series": board.series, "city_id": city_id}
    )


def _session_for_door(request: HttpRequest, session_id: int) -> Session:
    """The session's hosts and its organizers run the door; anyone else gets a 404 (as for a draft)."""
    try:
        session = event_selectors.session_get(user=request.user, session_id=session_id)
    except Session.DoesNotExist as exc:
        raise Http404(_("No such session.")) from exc
    if not registration_services.can_check_in(user=request.user, session=session):
        raise PermissionDenied(_("Only this session's hosts and organizers run its check-in."))
    return session


@login_required(login_url=LOGIN_URL)
def door(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_for_door(request, session_id)
    return render(
        request,
        "frontend/workspace/door.html",
        {"session": session, "stats": registration_selectors.checkin_stats(session=session)},
    )
