from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets

from events import selectors
from events.models import Session
from events.serializers import CitySerializer, SeriesSerializer, SessionSerializer, VenueSerializer
from project.api import query_bool, query_datetime, query_int
from project.errors import ApplicationError


class CityViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = CitySerializer

    def get_queryset(self):
        return selectors.city_list()


class VenueViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = VenueSerializer

    def get_queryset(self):
        return selectors.venue_list()


class SeriesViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SeriesSerializer

    def get_queryset(self):
        return selectors.series_list()


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
            f"Unknown kind {kind!r}.", fields={"kind": [f"Choose one of {', '.join(Session.Kind.values)}."]}
        )
    status = params.get("status") or None
    if status is not None and status not in Session.Status.values:
        raise ApplicationError(
            f"Unknown status {status!r}.", fields={"status": [f"Choose one of {', '.join(Session.Status.values)}."]}
        )
    return selectors.SessionFilters(
        series=query_int(params, "series"),
        city=query_int(params, "city"),
        kind=kind,
        starts_after=query_datetime(params, "starts_after"),
        starts_before=query_datetime(params, "starts_before"),
        available=query_bool(params, "available"),
        q=params.get("q") or None,
        status=status,
    )


@extend_schema_view(list=extend_schema(parameters=SESSION_FILTERS))
class SessionViewSet(viewsets.ReadOnlyModelViewSet):
    serializer_class = SessionSerializer

    def get_queryset(self):
        if self.action == "list":
            return selectors.session_list(
                user=self.request.user, filters=session_filters_from(self.request.query_params)
            )
        return selectors.session_list(user=self.request.user)
