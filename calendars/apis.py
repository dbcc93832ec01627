"""Thin views: parse the request, ask a selector or service, answer. The .ics views answer
``text/calendar; charset=utf-8`` with ETag and Last-Modified, and 304 to a conditional request."""

from django.http import HttpResponse, JsonResponse
from django.utils.cache import get_conditional_response
from django.utils.http import http_date
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions, permissions
from rest_framework.response import Response
from rest_framework.views import APIView

from calendars import selectors, services
from calendars.models import CalendarFeed
from calendars.serializers import CalendarFeedSerializer
from project.api import MAX_DB_INT, query_int
from project.errors import error_body
from project.i18n import activate_query_language

ICS_CONTENT_TYPE = "text/calendar; charset=utf-8"

ICS_RESPONSES = {
    (200, "text/calendar"): OpenApiResponse(
        response=OpenApiTypes.STR,
        description="An iCalendar (RFC 5545) document, UTF-8, CRLF line ends. Carries ETag and Last-Modified.",
    ),
    304: OpenApiResponse(description="Not modified (If-None-Match / If-Modified-Since matched)."),
    404: OpenApiResponse(description='JSON error {"detail", "code": "not_found", "fields"}.'),
}
CONDITIONAL_HEADERS = [
    OpenApiParameter("If-None-Match", OpenApiTypes.STR, OpenApiParameter.HEADER, description="An ETag from before"),
    OpenApiParameter(
        "If-Modified-Since", OpenApiTypes.STR, OpenApiParameter.HEADER, description="A Last-Modified from before"
    ),
]


def ics_response(request, calendar: selectors.RenderedCalendar, *, private: bool, download: bool) -> HttpResponse:
    response = HttpResponse(calendar.body, content_type=ICS_CONTENT_TYPE)
    response["ETag"] = calendar.etag
    response["Last-Modified"] = http_date(calendar.last_modified.timestamp())
    # Revalidate every time: a 304 is cheap, and a fan must see a move or cancellation promptly.
    response["Cache-Control"] = ("private" if private else "public") + ", no-cache"
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{calendar.filename}"'
    conditional = get_conditional_response(
        request, etag=calendar.etag, last_modified=int(calendar.last_modified.timestamp()), response=response
    )
    if conditional.status_code == 412:
        return JsonResponse(error_body(_("Precondition failed."), "precondition_failed"), status=412)
    return conditional


class IcsView(APIView):
    """Errors stay JSON; a calendar app's ``Accept: text/calendar`` must not turn into a 406."""

    def perform_content_negotiation(self, request, force=False):
        return super().perform_content_negotiation(request, force=True)


LANG_PARAMETER = OpenApiParameter(
    "lang",
    OpenApiTypes.STR,
    enum=["zh-hans", "en"],
    description="Language of the texts Aperture adds (default: the caller's language, see API.md Language).",
)


def existing_id(pk: int) -> int:
    """A path id no database row can have is simply not found (not an overflow error)."""
    if pk > MAX_DB_INT:
        raise exceptions.NotFound()
    return pk


class SessionCalendarApi(IcsView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="One session as an .ics file",
        parameters=[LANG_PARAMETER, *CONDITIONAL_HEADERS],
        responses=ICS_RESPONSES,
        tags=["calendars"],
    )
    def get(self, request, pk: int):
        activate_query_language(request.query_params)
        calendar = selectors.session_calendar(user=request.user, session_id=existing_id(pk))
        return ics_response(request, calendar, private=True, download=True)


class SeriesCalendarApi(IcsView):
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="A series' public calendar feed",
        description="Published and cancelled (STATUS:CANCELLED) sessions of the series, optionally of one city.",
        parameters=[
            OpenApiParameter("city", OpenApiTypes.INT, description="City id"),
            LANG_PARAMETER,
            *CONDITIONAL_HEADERS,
        ],
        responses={**ICS_RESPONSES, 400: OpenApiResponse(description="JSON error: bad or unknown city.")},
        tags=["calendars"],
    )
    def get(self, request, pk: int):
        activate_query_language(request.query_params)
        calendar = selectors.series_calendar(series_id=existing_id(pk), city_id=query_int(request.query_params, "city"))
        return ics_response(request, calendar, private=False, download=False)


class FanFeedIcsApi(IcsView):
    """The private subscription: the token in the URL is the credential, so no login is asked."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]

    @extend_schema(
        summary="A fan's private calendar feed (no login: the token is the credential)",
        description="Confirmed sessions (STATUS:CONFIRMED), waitlisted ones (TENTATIVE), cancelled ones "
        "(CANCELLED). A revoked token answers 404.",
        parameters=CONDITIONAL_HEADERS,
        responses=ICS_RESPONSES,
        tags=["calendars"],
        auth=[],
    )
    def get(self, request, token: str):
        feed = selectors.calendar_feed_for_token(token=token)
        calendar = selectors.fan_calendar(fan=feed.user)
        return ics_response(request, calendar, private=True, download=False)


def feed_payload(feed: CalendarFeed) -> dict:
    url = selectors.calendar_feed_url(feed)
    return {
        "url": url,
        "webcal_url": "webcal://" + url.split("://", 1)[1],
        "created_at": feed.created_at,
        "rotated_at": feed.rotated_at,
    }


class MyCalendarFeedApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: CalendarFeedSerializer}, tags=["calendars"], summary="My private feed URL")
    def get(self, request):
        feed = services.calendar_feed_get_or_create(user=request.user)
        return Response(CalendarFeedSerializer(feed_payload(feed)).data)

    @extend_schema(
        responses={200: CalendarFeedSerializer},
        tags=["calendars"],
        summary="Revoke my feed URL and issue a new one (the old URL then answers 404)",
    )
    def delete(self, request):
        feed = services.calendar_feed_revoke(user=request.user)
        return Response(CalendarFeedSerializer(feed_payload(feed)).data)
