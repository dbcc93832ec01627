import csv
import io
import re

from django.utils.translation import gettext
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import exceptions, status, viewsets
from rest_framework.decorators import action
from rest_framework.fields import BooleanField, IntegerField
from rest_framework.parsers import BaseParser, FormParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.response import Response

from accounts.selectors import is_any_organizer, is_organizer_of
from events import selectors, services
from events.models import Series, Session
from events.serializers import (
    CityInputSerializer,
    CitySerializer,
    ConflictSerializer,
    PlanResultSerializer,
    PlanUploadSerializer,
    SeriesCancelledSerializer,
    SeriesInputSerializer,
    SeriesPublishedSerializer,
    SeriesSerializer,
    SessionCancelSerializer,
    SessionFieldsSerializer,
    SessionInputSerializer,
    SessionSerializer,
    VenueInputSerializer,
    VenueSerializer,
)
from project.api import query_bool, query_datetime, query_int
from project.errors import ApplicationError
from project.parsers import JSONParser
from project.schema import error_response


class OrganizersWrite(BasePermission):
    """Anyone reads (the selectors decide what); writing needs an organizer: anonymous users get 401,
    fans and hosts 403. Which organization's organizer is checked against the object by the services."""

    reads_open = True  # the schema's 403s (project/schema.py)

    def has_permission(self, request, view) -> bool:
        if request.method in SAFE_METHODS:
            return True
        return bool(request.user and request.user.is_authenticated and is_any_organizer(user=request.user))


def _valid(serializer_class, data, *, partial: bool = False) -> dict:
    serializer = serializer_class(data=data, partial=partial)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def _require_organizer_of(request, organization_id: int) -> None:
    if not request.user.is_authenticated:
        raise exceptions.NotAuthenticated()
    if not is_organizer_of(user=request.user, organization_id=organization_id):
        raise exceptions.PermissionDenied(_("Only organizers of this organization may see this."))


class WritableViewSet(viewsets.ReadOnlyModelViewSet):
    """Read, create and edit (no delete: sessions are cancelled, places and series stay in history)."""

    permission_classes = [OrganizersWrite]
    input_serializer_class: type
    output_serializer_class: type

    def create(self, request, *args, **kwargs):
        data = _valid(self.input_serializer_class, request.data)
        organization_id = data.pop("organization", None)
        instance = self.perform_create_with(data, organization_id)
        return Response(self.output(instance), status=status.HTTP_201_CREATED)

    def get_editable_object(self):
        """The object of a write, once the caller is known to be one of its organization's organizers:
        a caller who may not write is told so (403) before anything about the body (400)."""
        instance = self.get_object()
        if not self.request.user.is_authenticated:
            raise exceptions.NotAuthenticated()
        if not is_organizer_of(user=self.request.user, organization_id=self.organization_id_of(instance)):
            raise exceptions.PermissionDenied(_("Only organizers of this organization may change its plan."))
        return instance

    def organization_id_of(self, instance) -> int:
        return instance.organization_id

    def update(self, request, *args, partial: bool = False, **kwargs):
        instance = self.get_editable_object()
        data = _valid(self.input_serializer_class, request.data, partial=partial)
        data.pop("organization", None)
        return Response(self.output(self.perform_update_with(instance, data)))

    def partial_update(self, request, *args, **kwargs):
        return self.update(request, *args, partial=True, **kwargs)

    def output(self, instance):
        return self.get_serializer(instance).data


def _write_schema(input_serializer, output_serializer):
    return extend_schema_view(
        create=extend_schema(request=input_serializer, responses={201: output_serializer}),
        update=extend_schema(request=input_serializer, responses={200: output_serializer}),
        partial_update=extend_schema(request=input_serializer, responses={200: output_serializer}),
    )


@_write_schema(CityInputSerializer, CitySerializer)
class CityViewSet(WritableViewSet):
    serializer_class = CitySerializer
    input_serializer_class = CityInputSerializer

    def get_queryset(self):
        return selectors.city_list()

    def perform_create_with(self, data, organization_id):
        organization = selectors.organization_for_new(user=self.request.user, organization_id=organization_id)
        return services.city_create(organization=organization, data=data, by=self.request.user)

    def perform_update_with(self, city, data):
        return services.city_update(city=city, data=data, by=self.request.user)


@_write_schema(VenueInputSerializer, VenueSerializer)
class VenueViewSet(WritableViewSet):
    serializer_class = VenueSerializer
    input_serializer_class = VenueInputSerializer

    def get_queryset(self):
        return selectors.venue_list()

    def perform_create_with(self, data, organization_id):
        city = selectors.city_list().filter(id=data["city"]).first()
        if city is None:
            raise ApplicationError(
                _("Unknown city %(city)s.") % {"city": data["city"]}, fields={"city": [_("Unknown city.")]}
            )
        if organization_id is None:
            organization_id = city.organization_id
        organization = selectors.organization_for_new(user=self.request.user, organization_id=organization_id)
        data["city"] = city
        return services.venue_create(organization=organization, data=data, by=self.request.user)

    def perform_update_with(self, venue, data):
        return services.venue_update(venue=venue, data=data, by=self.request.user)


CONFLICT_PAGE = extend_schema(
    responses={200: ConflictSerializer(many=True), 403: error_response("permission_denied")},
    description="Every conflict of the series' non-cancelled sessions, drafts included, with each other and "
    "with other series' sessions (organizers of the series' organization).",
)
DRY_RUN = OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Validate and report; write nothing.")


class CSVParser(BaseParser):
    """``text/csv`` bodies for a plan upload; parsed into rows by the view."""

    media_type = "text/csv"

    def parse(self, stream, media_type=None, parser_context=None) -> str:
        try:
            return stream.read().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise exceptions.ParseError("The CSV must be UTF-8.") from exc


PLAN_FIELDS = set(SessionFieldsSerializer().fields)
# A CSV plan's columns are text: true/false and whole-number columns are read as JSON's values first.
PLAN_BOOLEANS = {name for name, field in SessionFieldsSerializer().fields.items() if isinstance(field, BooleanField)}
PLAN_INTEGERS = {name for name, field in SessionFieldsSerializer().fields.items() if isinstance(field, IntegerField)}


def _csv_int(value: str):
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else value


def _csv_bool(value: str):
    lowered = value.lower()
    if lowered in BooleanField.TRUE_VALUES:
        return True
    if lowered in BooleanField.FALSE_VALUES:
        return False
    return value  # refused by the field, naming the row


def _csv_rows(text: str) -> list[dict]:
    """The plan's rows; a CSV that the reader cannot read (a field over the csv module's limit of
    131,072 characters, a NUL byte) is a 400 naming the line, not a server error."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    try:
        return _read_rows(reader)
    except csv.Error as exc:
        message = gettext("Line %(line)s of the CSV cannot be read: %(reason)s.") % {
            "line": reader.line_num,
            "reason": exc,
        }
        raise ApplicationError(message, fields={"file": [message]}) from exc


def _read_rows(reader: csv.DictReader) -> list[dict]:
    columns = [c.strip() for c in reader.fieldnames or []]
    unknown = [c for c in columns if c not in PLAN_FIELDS]
    if not columns or unknown:
        known = ", ".join(sorted(PLAN_FIELDS))
        raise ApplicationError(
            _("The CSV header must name session fields."),
            fields={
                "file": [
                    _("Unknown columns: %(columns)s; use %(known)s.")
                    % {"columns": ", ".join(unknown) or "(none)", "known": known}
                ]
            },
        )
    rows = []
    for raw in reader:
        row = {}
        for key, value in raw.items():
            if key is None:
                row.setdefault("__extra__", value)
                continue
            value = (value or "").strip()
            if value == "":
                continue
            key = key.strip()
            if key == "hosts":
                row[key] = [_csv_int(h) for h in re.split(r"[;|\s]+", value) if h]
            elif key in PLAN_BOOLEANS:
                row[key] = _csv_bool(value)
            else:
                row[key] = _csv_int(value) if key in PLAN_INTEGERS else value
        rows.append(row)
    return rows


def plan_rows_from(request) -> list:
    data = request.data
    if isinstance(data, str):
        return _csv_rows(data)
    if isinstance(data, list):
        return data
    upload = request.FILES.get("file") if hasattr(request, "FILES") else None
    if upload is not None:
        try:
            return _csv_rows(upload.read().decode("utf-8-sig"))
        except UnicodeDecodeError as exc:
            raise ApplicationError(_("The CSV must be UTF-8."), fields={"file": [_("Not UTF-8 text.")]}) from exc
    if isinstance(data, dict) and isinstance(data.get("sessions"), list):
        return data["sessions"]
    raise ApplicationError(
        _("Send the plan as a JSON list of sessions, or a CSV upload (field 'file' or a text/csv body)."),
        fields={"rows": [_("Expected a list of sessions.")]},
    )


def _messages(detail) -> list[str]:
    """A field's errors as a flat list of strings (a list field's are per item: "hosts[1]: ...")."""
    if isinstance(detail, dict):
        return [f"[{key}] {message}" for key, value in detail.items() for message in _messages(value)]
    if isinstance(detail, list):
        return [message for item in detail for message in _messages(item)]
    return [str(detail)]


def parse_plan(raw_rows: list) -> tuple[list, dict[int, dict[str, list[str]]]]:
    rows: list = []
    errors: dict[int, dict[str, list[str]]] = {}
    for index, raw in enumerate(raw_rows):
        if not isinstance(raw, dict):
            rows.append(None)
            errors[index] = {"non_field_errors": ["Each row is an object of session fields."]}
            continue
        serializer = SessionFieldsSerializer(data=raw)
        row_errors: dict[str, list[str]] = {}
        if not serializer.is_valid():
            row_errors = {name: _messages(detail) for name, detail in serializer.errors.items()}
        unknown = sorted(set(raw) - PLAN_FIELDS)
        for name in unknown:
            row_errors[name] = ["Unknown field." if name != "__extra__" else "More values than columns."]
        if row_errors:
            rows.append(None)
            errors[index] = row_errors
        else:
            rows.append(dict(serializer.validated_data))
    return rows, errors


@_write_schema(SeriesInputSerializer, SeriesSerializer)
class SeriesViewSet(WritableViewSet):
    serializer_class = SeriesSerializer
    input_serializer_class = SeriesInputSerializer

    def get_queryset(self):
        return selectors.series_list()

    def perform_create_with(self, data, organization_id):
        organization = selectors.organization_for_new(user=self.request.user, organization_id=organization_id)
        return services.series_create(organization=organization, data=data, by=self.request.user)

    def perform_update_with(self, series, data):
        return services.series_update(series=series, data=data, by=self.request.user)

    @CONFLICT_PAGE
    @action(detail=True, methods=["get"], permission_classes=[OrganizersWrite])
    def conflicts(self, request, pk=None):
        series: Series = self.get_object()
        _require_organizer_of(request, series.organization_id)
        found = selectors.series_conflict_list(series=series)
        page = self.paginate_queryset([conflict.as_pair_dict() for conflict in found])
        return self.get_paginated_response(page)

    @extend_schema(
        request={
            "application/json": SessionFieldsSerializer(many=True),
            "multipart/form-data": PlanUploadSerializer,
            "text/csv": OpenApiTypes.STR,
        },
        parameters=[DRY_RUN],
        responses={200: PlanResultSerializer, 201: PlanResultSerializer},
        description="A whole plan of draft sessions, all or nothing. A 400 names every bad row: "
        '{"rows": {"<index>": {field: [messages]}}} (rows counted from 0, conflicts included).',
    )
    @action(detail=True, methods=["post"], parser_classes=[JSONParser, CSVParser, MultiPartParser, FormParser])
    def plan(self, request, pk=None):
        series: Series = self.get_editable_object()
        dry_run = bool(query_bool(request.query_params, "dry_run"))
        rows, errors = parse_plan(plan_rows_from(request))
        result = services.series_plan_import(
            series=series, rows=rows, row_errors=errors, by=request.user, dry_run=dry_run
        )
        code = status.HTTP_200_OK if dry_run else status.HTTP_201_CREATED
        return Response(PlanResultSerializer(result).data, status=code)

    @extend_schema(
        request=None,
        responses={200: SeriesPublishedSerializer, 400: error_response("a draft fails a rule or conflicts")},
        description="Publish every draft of the series, all or nothing; a 400 names every draft that fails a "
        'rule or conflicts: {"sessions": {"<id>": {field: [messages]}}}.',
    )
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        published = services.series_publish(series=self.get_editable_object(), by=request.user)
        return Response({"published": [s.id for s in published]})

    @extend_schema(
        request=SessionCancelSerializer,
        responses={200: SeriesCancelledSerializer},
        description="Cancel every session of the series (fans are emailed; registrations are kept).",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        series = self.get_editable_object()
        data = _valid(SessionCancelSerializer, request.data)
        cancelled = services.series_cancel(series=series, reason=data["reason"], by=request.user)
        return Response({"cancelled": [s.id for s in cancelled]})


SESSION_FILTERS = [
    OpenApiParameter("series", OpenApiTypes.INT, description="Series id"),
    OpenApiParameter("city", OpenApiTypes.INT, description="City id"),
    OpenApiParameter("kind", OpenApiTypes.STR, enum=[k.value for k in Session.Kind]),
    OpenApiParameter("starts_after", OpenApiTypes.DATETIME, description="ISO 8601 with offset"),
    OpenApiParameter("starts_before", OpenApiTypes.DATETIME, description="ISO 8601 with offset"),
    OpenApiParameter("available", OpenApiTypes.BOOL, description="Published, upcoming, seats left"),
    OpenApiParameter("q", OpenApiTypes.STR, description="Search title, description, city, venue"),
    OpenApiParameter("status", OpenApiTypes.STR, enum=[s.value for s in Session.Status]),
]


def session_filters_from(params) -> selectors.SessionFilters:
    kind = params.get("kind") or None
    if kind is not None and kind not in Session.Kind.values:
        raise ApplicationError(
            _("Unknown kind %(kind)s.") % {"kind": repr(kind)},
            fields={"kind": [_("Choose one of %(kind)s.") % {"kind": ", ".join(Session.Kind.values)}]},
        )
    status_ = params.get("status") or None
    if status_ is not None and status_ not in Session.Status.values:
        raise ApplicationError(
            _("Unknown status %(status)s.") % {"status": repr(status_)},
            fields={"status": [_("Choose one of %(status)s.") % {"status": ", ".join(Session.Status.values)}]},
        )
    return selectors.SessionFilters(
        series=query_int(params, "series"),
        city=query_int(params, "city"),
        kind=kind,
        starts_after=query_datetime(params, "starts_after"),
        starts_before=query_datetime(params, "starts_before"),
        available=query_bool(params, "available"),
        q=params.get("q") or None,
        status=status_,
    )


def _refuse_status_change(data, *, current: str) -> None:
    """A session's status changes only through its actions, which check their rules and tell the fans
    (publish, cancel). ``status`` may be sent back unchanged (a client that PATCHes what it read);
    any other value is refused rather than silently ignored."""
    if not isinstance(data, dict) or "status" not in data or data["status"] == current:
        return
    message = _(
        "A session's status cannot be set here: publish it with POST /api/sessions/{id}/publish/ "
        "and cancel it with POST /api/sessions/{id}/cancel/."
    )
    raise ApplicationError(message, code="status_read_only", fields={"status": [message]})


STATUS_NOTE = (
    " `status` is not set here: sending a status other than the session's own (a new session is a draft) "
    "is a 400 `status_read_only`; use `/publish/` and `/cancel/`."
)


@extend_schema_view(
    list=extend_schema(parameters=SESSION_FILTERS),
    create=extend_schema(
        request=SessionInputSerializer,
        responses={201: SessionSerializer},
        description="A new draft session. Conflicts are 400 with code 'conflict'." + STATUS_NOTE,
    ),
    update=extend_schema(
        request=SessionFieldsSerializer, responses={200: SessionSerializer}, description=STATUS_NOTE.strip()
    ),
    partial_update=extend_schema(
        request=SessionFieldsSerializer,
        responses={200: SessionSerializer},
        description="Edit; rescheduling is a PATCH of starts_at/ends_at/venue (fans are emailed, the calendar "
        "SEQUENCE goes up). Conflicts are 400 with code 'conflict'." + STATUS_NOTE,
    ),
)
class SessionViewSet(WritableViewSet):
    serializer_class = SessionSerializer
    input_serializer_class = SessionFieldsSerializer

    def get_queryset(self):
        if self.action == "list":
            return selectors.session_list(
                user=self.request.user, filters=session_filters_from(self.request.query_params)
            )
        return selectors.session_list(user=self.request.user)

    def output(self, session):
        return SessionSerializer(selectors.session_get(user=self.request.user, session_id=session.id)).data

    def create(self, request, *args, **kwargs):
        _refuse_status_change(request.data, current=Session.Status.DRAFT)
        data = _valid(SessionInputSerializer, request.data)
        series = selectors.series_list().filter(id=data.pop("series")).first()
        if series is None:
            raise ApplicationError(_("Unknown series."), fields={"series": [_("Unknown series.")]})
        session = services.session_create(series=series, data=data, by=request.user)
        return Response(self.output(session), status=status.HTTP_201_CREATED)

    def organization_id_of(self, session) -> int:
        return session.series.organization_id

    def update(self, request, *args, partial: bool = False, **kwargs):
        session = self.get_editable_object()
        _refuse_status_change(request.data, current=session.status)
        data = _valid(SessionFieldsSerializer, request.data, partial=partial)
        return Response(self.output(self.perform_update_with(session, data)))

    def perform_update_with(self, session, data):
        return services.session_update(session=session, data=data, by=self.request.user)

    @extend_schema(request=None, responses={200: SessionSerializer, 400: error_response("a rule or a conflict")})
    @action(detail=True, methods=["post"])
    def publish(self, request, pk=None):
        session = services.session_publish(session=self.get_editable_object(), by=request.user)
        return Response(self.output(session))

    @extend_schema(request=SessionCancelSerializer, responses={200: SessionSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        session = self.get_editable_object()
        data = _valid(SessionCancelSerializer, request.data)
        session = services.session_cancel(session=session, reason=data["reason"], by=request.user)
        return Response(self.output(session))
