import csv
import io

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.selectors import organizations_of_organizer
from project.errors import ApplicationError
from project.schema import error_response
from streams import selectors, services
from streams.models import Stream
from streams.serializers import (
    ExternalCountSerializer,
    StreamReportSerializer,
    StreamSerializer,
    StreamStatsSerializer,
)

_RAW_BODY = {
    "application/json": {
        "type": "object",
        "properties": {
            "platform": {"type": "string", "example": "douyin"},
            "concurrent": {"type": "integer", "minimum": 0},
            "at": {"type": "string", "format": "date-time"},
        },
        "required": ["platform", "concurrent", "at"],
    }
}


class ReportCSVRenderer(BaseRenderer):
    """The stream report as CSV; errors (401/403/404) stay JSON."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        response = (renderer_context or {}).get("response")
        if response is not None and response.status_code >= 400 or not isinstance(data, dict) or "curve" not in data:
            return JSONRenderer().render(data)
        out = io.StringIO()
        csv.writer(out).writerows(selectors.stream_report_csv_rows(report=data))
        return out.getvalue().encode()


class StreamViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """Streams. Everyone reads the visible ones; organizers of the organization create and edit;
    the stream's hosts and organizers start and end it."""

    serializer_class = StreamSerializer

    def get_queryset(self):
        return selectors.stream_list(user=self.request.user)

    def _require_login(self) -> None:
        if not self.request.user.is_authenticated:
            raise NotAuthenticated()

    def _organization_for_create(self, data: dict):
        orgs = organizations_of_organizer(user=self.request.user)
        if data.get("session") is not None:
            organization = data["session"].series.organization
        elif data.get("organization") is not None:
            organization = data["organization"]
        else:
            candidates = list(orgs[:2])
            if len(candidates) != 1:
                raise ApplicationError(
                    _("Say which organization the stream belongs to."),
                    fields={"organization": [_("Required when you organize several organizations.")]},
                )
            return candidates[0]
        if not orgs.filter(id=organization.id).exists():
            raise PermissionDenied(_("Only the organization's organizers plan its streams."))
        if data.get("organization") is not None and data["organization"].id != organization.id:
            raise ApplicationError(
                _("The session belongs to another organization."),
                fields={"session": [_("Choose a session of the stream's organization.")]},
            )
        return organization

    def create(self, request: Request, *args, **kwargs) -> Response:
        self._require_login()
        if not organizations_of_organizer(user=request.user).exists():
            raise PermissionDenied(_("Only organizers plan streams."))
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        organization = self._organization_for_create(data)
        stream = services.stream_create(
            organization=organization,
            title=data["title"],
            session=data.get("session"),
            playback_url=data.get("playback_url", ""),
            hosts=data.get("hosts"),
            audience=data.get("audience", Stream.Audience.PUBLIC),
            replay_url=data.get("replay_url", ""),
            by=request.user,
        )
        return Response(self.get_serializer(stream).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args, **kwargs) -> Response:
        self._require_login()
        stream = self.get_object()
        if not selectors.can_manage_stream(user=request.user, stream=stream):
            raise PermissionDenied(_("Only the organization's organizers edit its streams."))
        partial = kwargs.pop("partial", False)
        serializer = self.get_serializer(stream, data=request.data, partial=partial)
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        if "organization" in data and data["organization"].id != stream.organization_id:
            raise ApplicationError(
                _("A stream cannot move to another organization."),
                fields={"organization": [_("Cannot be changed.")]},
            )
        data.pop("organization", None)
        stream = services.stream_update(stream=stream, data=data, by=request.user)
        return Response(self.get_serializer(stream).data)

    def _runnable(self) -> Stream:
        self._require_login()
        stream = self.get_object()
        if not selectors.can_run_stream(user=self.request.user, stream=stream):
            raise PermissionDenied(_("Only the stream's hosts and organizers run it."))
        return stream

    @extend_schema(request=None, responses={200: StreamSerializer, 409: error_response("already_live / ended")})
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk=None) -> Response:
        """Go live (stream hosts and organizers). 409 `already_live` / `ended`."""
        stream = services.stream_start(stream=self._runnable(), by=request.user)
        return Response(self.get_serializer(stream).data)

    @extend_schema(request=None, responses={200: StreamSerializer, 409: error_response("already_ended")})
    @action(detail=True, methods=["post"])
    def end(self, request: Request, pk=None) -> Response:
        """End the stream (stream hosts and organizers); its figures become final. 409 `already_ended`."""
        stream = services.stream_end(stream=self._runnable(), by=request.user)
        return Response(self.get_serializer(stream).data)

    @extend_schema(request=None, responses={200: StreamSerializer})
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk=None) -> Response:
        """Replace the external-counts signing secret (organizers of the organization)."""
        self._require_login()
        stream = self.get_object()
        if not selectors.can_manage_stream(user=request.user, stream=stream):
            raise PermissionDenied(_("Only the organization's organizers see and rotate the secret."))
        stream = services.stream_rotate_secret(stream=stream, by=request.user)
        return Response(self.get_serializer(stream).data)

    @extend_schema(responses={200: StreamStatsSerializer})
    @action(detail=True, methods=["get"])
    def stats(self, request: Request, pk=None) -> Response:
        """Live figures (never below the saved ones; saved every few seconds, so they survive
        restarts) and the timeline. An ended stream shows its final figures. `stale: true` when the
        live store is unreachable. `platforms` only for the stream's hosts and organizers."""
        stream = self.get_object()
        with_platforms = selectors.can_run_stream(user=request.user, stream=stream)
        return Response(
            StreamStatsSerializer(selectors.stream_stats(stream=stream, with_platforms=with_platforms)).data
        )

    @extend_schema(
        responses={200: StreamReportSerializer, (200, "text/csv"): OpenApiTypes.STR},
        parameters=[
            OpenApiParameter("format", OpenApiTypes.STR, enum=["json", "csv"], description="csv: the CSV export")
        ],
    )
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, ReportCSVRenderer])
    def report(self, request: Request, pk=None) -> Response:
        """After-show report (the stream's hosts and organizers): peak and when, average and median
        concurrent, views, unique viewers, average watch time, the audience curve, the share of
        registered fans who watched, per platform. Figures so far while live (`final: false`);
        stored when the stream ends and never changed after (`final: true`). `?format=csv` (or
        `Accept: text/csv`): the same as CSV (columns section, at, platform, metric, value)."""
        stream = self._runnable()
        response = Response(StreamReportSerializer(selectors.stream_report(stream=stream)).data)
        if request.accepted_renderer.format == "csv":
            response["Content-Disposition"] = f'attachment; filename="stream-{stream.id}-report.csv"'
        return response

    @extend_schema(
        request=_RAW_BODY,
        responses={
            200: ExternalCountSerializer,
            401: OpenApiResponse(description="Missing or wrong X-Signature"),
            409: OpenApiResponse(description="Replayed/out-of-order report (`replayed`) or ended stream"),
        },
        parameters=[
            OpenApiParameter(
                "X-Signature",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                required=True,
                description="Hex HMAC-SHA256 of the raw request body with the stream's external_secret "
                "(an optional 'sha256=' prefix is accepted).",
            )
        ],
        examples=[
            OpenApiExample(
                "douyin", value={"platform": "douyin", "concurrent": 1200, "at": "2026-12-05T20:15:00+08:00"}
            )
        ],
        auth=[],
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="external-counts",
        authentication_classes=[],
        permission_classes=[AllowAny],
    )
    def external_counts(self, request: Request, pk=None) -> Response:
        """Concurrent audience of another platform carrying the stream; counts until that platform
        has not reported for PRESENCE_EXTERNAL_TIMEOUT_SECONDS. `at` must be recent (400
        `stale_timestamp`) and later than the platform's last accepted one (409 `replayed`)."""
        body = request.body  # the raw bytes, read before anything parses them
        try:
            stream_id = int(pk)
        except (TypeError, ValueError) as exc:
            raise ApplicationError(_("Not found."), code="not_found", status_code=404) from exc
        record = services.external_count_record(
            stream_id=stream_id, body=body, signature=request.headers.get("X-Signature")
        )
        return Response(ExternalCountSerializer(record).data)
