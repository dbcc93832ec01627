"""The organizers' and hosts' workspace (issue 12): the month board, session forms, the door.
Reads go through frontend.workspace_selectors; writes through the same services as the API."""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Callable

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts import selectors as account_selectors
from events import selectors as event_selectors
from events import services as event_services
from events import sheets
from events.models import City, Series, Session, Venue
from frontend import workspace_selectors as selectors
from frontend.selectors import draw_of
from frontend.workspace_forms import FIELD_OF, CancelSessionForm, SessionForm
from project import formats
from project.errors import ApplicationError
from registrations import draws
from registrations import selectors as registration_selectors
from registrations import services as registration_services
from streams import selectors as stream_selectors
from streams import services as stream_services
from streams.models import Stream

LOGIN_URL = "/accounts/login/"
# A host's home keeps a session this long after it ended (the roster and figures of last night).
HOST_HOME_RECENT = dt.timedelta(days=2)


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


# --- Session forms -----------------------------------------------------------------------------


class _DryRun(Exception):
    """Rolls back a trial save: the conflict check runs through the very services that save."""


def _try(save: Callable[[], Session], *, check_only: bool) -> Session | None:
    if not check_only:
        return save()
    try:
        with transaction.atomic():
            save()
            raise _DryRun
    except _DryRun:
        return None


def _place_errors(form: SessionForm, exc: ApplicationError) -> list[str]:
    """Field errors onto their fields; conflicts returned as one list, each told once."""
    if exc.code == "conflict":
        found = [c.get("message", "") for c in (exc.extra or {}).get("conflicts", [])] or [exc.message]
        return list(dict.fromkeys(m for m in found if m))
    placed = False
    for name, texts in (exc.fields or {}).items():
        target = FIELD_OF.get(name, name if name in form.fields else None)
        for message in texts if isinstance(texts, list) else [texts]:
            if target is None and message == exc.message:
                continue
            form.add_error(target, str(message))
            placed = True
    if not placed:
        form.add_error(None, exc.message)
    return []


def _session_form_page(
    request: HttpRequest, *, series: Series, session: Session | None, save: Callable[[dict], Session]
) -> HttpResponse:
    organization_id = series.organization_id
    cities = event_selectors.cities_of_organization(organization_id=organization_id)
    venues = event_selectors.venues_of_organization(organization_id=organization_id)
    current = [h.id for h in session.hosts.all()] if session is not None else []  # they stay pickable
    hosts = account_selectors.hosts_of_organization(organization_id=organization_id, also=current)
    options = {"cities": cities, "venues": venues, "hosts": hosts}
    conflicts: list[str] = []
    checked = False
    if request.method == "POST":
        form = SessionForm(request.POST, **options)
        check_only = "check" in request.POST
        if form.is_valid():
            data = form.service_data()
            try:
                saved = _try(lambda: save(data), check_only=check_only)
            except ApplicationError as exc:
                conflicts = _place_errors(form, exc)
            else:
                if saved is not None:
                    messages.success(request, _("Saved “%(title)s”.") % {"title": saved.title})
                    return redirect(f"{reverse('plan-board', args=[series.id])}#session-{saved.id}")
                checked = True
    else:
        initial = SessionForm.initial_of(session) if session is not None else _new_session_initial(request)
        form = SessionForm(initial=initial, **options)
    return render(
        request,
        "frontend/workspace/session_form.html",
        {
            "form": form,
            "series": series,
            "session": session,
            "conflicts": conflicts,
            "checked": checked and not conflicts and not form.errors,
            "venue_groups": _venue_groups(venues),
            "zone_label": form.zone_label(),
        },
    )


def _new_session_initial(request: HttpRequest) -> dict:
    initial: dict = {"kind": Session.Kind.TALK, "waitlist_enabled": True, "start": "19:00", "end": "21:00"}
    for name in ("city", "date"):
        if request.GET.get(name):
            initial[name] = request.GET[name]
    return initial


def _venue_groups(venues: list[Venue]) -> list[tuple[City, list[tuple[Venue, str]]]]:
    """Venues by city, each with its zone's name, for the venue picker that follows the city."""
    now = timezone.now()
    groups: dict[int, tuple[City, list[tuple[Venue, str]]]] = {}
    for venue in venues:
        groups.setdefault(venue.city_id, (venue.city, []))[1].append((venue, formats.zone_label(now, venue.timezone)))
    return list(groups.values())


@login_required(login_url=LOGIN_URL)
@require_http_methods(["GET", "POST"])
def session_new(request: HttpRequest, series_id: int) -> HttpResponse:
    series = _series_or_404(request, series_id)
    return _session_form_page(
        request,
        series=series,
        session=None,
        save=lambda data: event_services.session_create(series=series, data=data, by=request.user),
    )


def _planned_session_or_404(request: HttpRequest, session_id: int) -> Session:
    try:
        return event_selectors.session_for_planner(user=request.user, session_id=session_id)
    except Session.DoesNotExist as exc:
        raise Http404(_("No such session.")) from exc


@login_required(login_url=LOGIN_URL)
@require_http_methods(["GET", "POST"])
def session_edit(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _planned_session_or_404(request, session_id)
    if session.status == Session.Status.CANCELLED:
        messages.error(request, _("A cancelled session cannot be changed."))
        return redirect(f"{reverse('plan-board', args=[session.series_id])}#session-{session.id}")
    return _session_form_page(
        request,
        series=session.series,
        session=session,
        save=lambda data: event_services.session_update(session=session, data=data, by=request.user),
    )


@login_required(login_url=LOGIN_URL)
@require_POST
def session_publish(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _planned_session_or_404(request, session_id)
    try:
        event_services.session_publish(session=session, by=request.user)
    except ApplicationError as exc:
        found = [c.get("message", "") for c in (exc.extra or {}).get("conflicts", [])]
        for message in dict.fromkeys(found or [exc.message]):
            messages.error(request, message)
    else:
        messages.success(request, _("Published “%(title)s”.") % {"title": session.title})
    return redirect(f"{reverse('plan-board', args=[session.series_id])}#session-{session.id}")


@login_required(login_url=LOGIN_URL)
@require_http_methods(["GET", "POST"])
def session_cancel(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _planned_session_or_404(request, session_id)
    form = CancelSessionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            event_services.session_cancel(session=session, reason=form.cleaned_data["reason"], by=request.user)
        except ApplicationError as exc:
            for message in (exc.fields or {}).get("reason", [exc.message]):
                form.add_error("reason", message)
        else:
            messages.success(request, _("Cancelled “%(title)s”; the fans are told.") % {"title": session.title})
            return redirect(f"{reverse('plan-board', args=[session.series_id])}#session-{session.id}")
    return render(request, "frontend/workspace/session_cancel.html", {"form": form, "session": session})


# --- Host home, stream status, roster, series figures ------------------------------------------


@login_required(login_url=LOGIN_URL)
def host_home(request: HttpRequest) -> HttpResponse:
    since = timezone.now() - HOST_HOME_RECENT
    sessions = event_selectors.sessions_hosted_by(user=request.user, since=since)
    return render(request, "frontend/workspace/host_home.html", {"sessions": sessions, "now": timezone.now()})


@login_required(login_url=LOGIN_URL)
@require_POST
def stream_status_set(request: HttpRequest, stream_id: int) -> HttpResponse:
    """Go live / end, through the streams services (the same as POST /api/streams/{id}/start|end/)."""
    try:
        stream = stream_selectors.stream_get(user=request.user, stream_id=stream_id)
    except Stream.DoesNotExist as exc:
        raise Http404(_("No such stream.")) from exc
    action = request.POST.get("status")
    try:
        if action == "live":
            stream_services.stream_start(stream=stream, by=request.user)
        elif action == "ended":
            stream_services.stream_end(stream=stream, by=request.user)
        else:
            raise ApplicationError(_("Choose live or ended."))
    except ApplicationError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
    next_url = request.POST.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = reverse("host-home")
    return redirect(next_url)


@login_required(login_url=LOGIN_URL)
def roster(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_for_door(request, session_id)
    return render(
        request,
        "frontend/workspace/roster.html",
        {
            "session": session,
            "roster": registration_selectors.session_roster(session=session),
            "draw": draw_of(session=session),
        },
    )


@login_required(login_url=LOGIN_URL)
@require_POST
def session_draw_run(request: HttpRequest, session_id: int) -> HttpResponse:
    """Run the draw now (entries closed, not drawn yet), through the same service as
    ``POST /api/sessions/{id}/draw/``; organizers only."""
    session = _session_for_door(request, session_id)
    try:
        result = draws.draw_run(session_id=session.id, by=request.user)
    except ApplicationError as exc:
        if exc.status_code == 403:
            raise PermissionDenied(exc.message) from exc
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            _("The draw has run: %(confirmed)s confirmed, %(waitlisted)s on the waitlist; everyone is told.")
            % {"confirmed": result.confirmed, "waitlisted": result.waitlisted},
        )
    return redirect("roster", session_id=session.id)


def _csv_cell(value: object) -> str:
    """A cell a spreadsheet will not run as a formula (a name may start with = + - @)."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


@login_required(login_url=LOGIN_URL)
def roster_csv(request: HttpRequest, session_id: int) -> HttpResponse:
    session = _session_for_door(request, session_id)
    found = registration_selectors.session_roster(session=session)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roster-session-{session.id}.csv"'
    response.write("\ufeff")  # spreadsheet programs read UTF-8 (Chinese names) only with a BOM
    writer = csv.writer(response)
    writer.writerow(
        [
            "status",
            "waitlist_position",
            "name",
            "username",
            "registered_at",
            "checked_in_at",
            "checked_in_by",
            "priority_code",
        ]
    )
    for line in [*found.confirmed, *found.waitlist]:
        registration = line.registration
        local = [
            formats.local(moment, session.timezone).isoformat() if moment else ""
            for moment in (registration.created_at, registration.checked_in_at)
        ]
        writer.writerow(
            [
                _csv_cell(v)
                for v in (
                    registration.status,
                    registration.waitlist_position or "",
                    line.name,
                    registration.fan.username,
                    local[0],
                    local[1],
                    line.checked_in_by,
                    line.priority_code,
                )
            ]
        )
    return response


@login_required(login_url=LOGIN_URL)
def series_figures(request: HttpRequest, series_id: int) -> HttpResponse:
    try:
        figures = selectors.series_figures(user=request.user, series_id=series_id)
    except Series.DoesNotExist as exc:
        raise Http404(_("No such series among those you plan.")) from exc
    return render(request, "frontend/workspace/figures.html", {"figures": figures, "series": figures.series})


# --- Month plan import -------------------------------------------------------------------------

IMPORT_SESSION_KEY = "plan-import"


@login_required(login_url=LOGIN_URL)
def plan_import_template(request: HttpRequest, series_id: int, fmt: str) -> HttpResponse:
    series = _series_or_404(request, series_id)
    rows = sheets.template_rows(series)
    if fmt == "xlsx":
        from openpyxl import Workbook

        workbook = Workbook()
        sheet = workbook.active
        for row in rows:
            sheet.append(row)
        out = io.BytesIO()
        workbook.save(out)
        response = HttpResponse(
            out.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        )
    else:
        text = io.StringIO()
        csv.writer(text).writerows(rows)
        response = HttpResponse("\ufeff" + text.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="plan-template.{fmt}"'
    return response


def _import_outcome(series: Series, table: sheets.Table, *, by, dry_run: bool) -> dict:
    """What the preview shows: every row with its errors (by spreadsheet row number)."""
    try:
        result = sheets.series_plan_sheet_import(series=series, table=table, by=by, dry_run=dry_run)
    except ApplicationError as exc:
        bad = (exc.extra or {}).get("rows") or {}
        if not bad:
            return {"error": exc.message, "file_errors": (exc.fields or {}).get("file", []), "rows": []}
        lines = [
            {"line": index + sheets.FIRST_ROW, "cells": cells, "errors": bad.get(str(index + sheets.FIRST_ROW), {})}
            for index, cells in enumerate(table)
        ]
        return {"error": exc.message, "rows": lines, "bad": len(bad)}
    lines = [{"line": index + sheets.FIRST_ROW, "cells": cells, "errors": {}} for index, cells in enumerate(table)]
    return {"rows": lines, "ok": True, "created": result.created}


@login_required(login_url=LOGIN_URL)
@require_http_methods(["GET", "POST"])
def plan_import(request: HttpRequest, series_id: int) -> HttpResponse:
    """Upload -> preview (a dry run naming every bad row and conflict) -> apply, all or nothing.
    The previewed table waits in the signed-in session until it is applied."""
    series = _series_or_404(request, series_id)
    context: dict = {"series": series, "columns": sheets.COLUMNS}
    stash = request.session.get(IMPORT_SESSION_KEY) or {}
    if request.method == "POST" and "apply" in request.POST:
        table = stash.get(str(series.id))
        if not table:
            messages.error(request, _("Upload the plan again: the preview has expired."))
            return redirect("plan-import", series_id=series.id)
        outcome = _import_outcome(series, table, by=request.user, dry_run=False)
        if outcome.get("ok"):
            stash.pop(str(series.id), None)
            request.session[IMPORT_SESSION_KEY] = stash
            messages.success(
                request, _("%(count)s draft sessions were added to the plan.") % {"count": outcome["created"]}
            )
            return redirect("plan-board", series_id=series.id)
        context.update(outcome)
    elif request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            context["file_errors"] = [_("Choose a .csv or .xlsx file.")]
        else:
            try:
                table = sheets.table_from_upload(name=upload.name or "", data=upload.read(sheets.MAX_BYTES + 1))
            except ApplicationError as exc:
                context.update({"error": exc.message, "file_errors": (exc.fields or {}).get("file", [])})
            else:
                outcome = _import_outcome(series, table, by=request.user, dry_run=True)
                context.update(outcome)
                if outcome.get("ok"):
                    stash[str(series.id)] = table
                    request.session[IMPORT_SESSION_KEY] = stash
    return render(request, "frontend/workspace/plan_import.html", context)
