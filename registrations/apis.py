import csv
import functools
import hashlib
import io

from django.http import HttpResponse
from django.utils.cache import get_conditional_response
from django.utils.http import quote_etag
from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, Throttled
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.selectors import is_any_organizer
from events.models import Session
from project.api import query_int
from project.errors import ApplicationError
from project.i18n import SessionAuthentication
from project.throttles import AnonRateThrottle
from registrations import draws, rush, selectors, services
from registrations.authentication import RushTokenAuthentication
from registrations.models import Registration, checkin_qr
from registrations.serializers import (
    CheckinRequestSerializer,
    CheckinSerializer,
    CheckinStatsSerializer,
    DrawOrderSerializer,
    DrawRunSerializer,
    DrawSerializer,
    MyRegistrationSerializer,
    PartyUpdateSerializer,
    PriorityCodeBatchResultSerializer,
    PriorityCodeBatchSerializer,
    PriorityCodeSerializer,
    PriorityCodeUpdateSerializer,
    RegistrationRequestSerializer,
    RegistrationSerializer,
    SeatsNowSerializer,
    registration_payload,
    registration_request_of,
)
from registrations.throttles import InvalidCodeThrottle, RegistrationRateThrottle

ERRORS = {
    400: OpenApiResponse(description="invalid / invalid_code"),
    404: OpenApiResponse(description="not_found"),
    409: OpenApiResponse(description="full / closed"),
    429: OpenApiResponse(description="throttled: too many invalid priority codes"),
}


# A rush's requests (a lone fan's first registration by token) are answered by registrations.rush
# before this view (see as_view); everything else, and whatever that path leaves, here. (A comment,
# not a docstring: the schema would publish it.)
class SessionRegistrationApi(APIView):
    authentication_classes = [RushTokenAuthentication, SessionAuthentication]
    permission_classes = [permissions.IsAuthenticated]
    throttle_classes = [AnonRateThrottle, RegistrationRateThrottle, InvalidCodeThrottle]

    @classmethod
    def as_view(cls, **initkwargs):
        view = super().as_view(**initkwargs)

        def registration(request, *args, **kwargs):
            return rush.fast_registration(request, kwargs["pk"]) or view(request, *args, **kwargs)

        # The view's attributes (cls and initkwargs for the schema, csrf_exempt) come along.
        return functools.update_wrapper(registration, view)

    def get_throttles(self):
        throttles = super().get_throttles()
        counted = getattr(self.request._request, rush.RATE_COUNTED, None)
        if counted is None:
            return throttles
        # The fast path counted this request already: its throttle repeats the verdict.
        return [counted if isinstance(throttle, RegistrationRateThrottle) else throttle for throttle in throttles]

    def check_throttles(self, request) -> None:
        try:
            super().check_throttles(request)
        except Throttled:
            # Refused by another limit (the fan's request rate) after the code throttle took its
            # places: the code is never looked at, so they are given back, not counted as a guess.
            InvalidCodeThrottle.settle(request, wrong_code=False)
            raise

    @extend_schema(
        request=RegistrationRequestSerializer,
        responses={201: RegistrationSerializer, 200: RegistrationSerializer, **ERRORS},
        summary="Register for a session (idempotent: 200 with the existing registration)",
    )
    def post(self, request, pk: int):
        wanted = registration_request_of(request.data)
        wrong_code = False
        try:
            registration, created = services.registration_get_or_create(
                session_id=pk,
                fan=request.user,
                priority_code=wanted.get("priority_code") or None,
                party_size=wanted.get("party_size"),
                companions=wanted.get("companions"),
            )
        except ApplicationError as exc:
            wrong_code = exc.code == "invalid_code"
            raise
        finally:
            InvalidCodeThrottle.settle(request, wrong_code=wrong_code)
        return Response(
            registration_payload(registration), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )


class SeatsNowApi(APIView):
    """What a session page polls about once a second: served from a shared one-second copy, with
    an ETag (304 when unchanged), no authentication and no rate limit (a whole campus behind one
    address polls it), and ``Cache-Control: max-age=1`` so a front proxy may share it too."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes: list = []

    @extend_schema(
        responses={
            200: SeatsNowSerializer,
            304: OpenApiResponse(description="unchanged since the ETag sent in If-None-Match"),
            404: OpenApiResponse(description="not_found: no such public session"),
        },
        summary="A session's seats now (at most a second old), for pages that keep them current",
    )
    def get(self, request, pk: int):
        figures = selectors.seats_now_shared(session_id=pk)
        if figures is None:
            raise NotFound(_("No such session."))
        payload = figures.as_dict()
        etag = quote_etag(hashlib.sha256(repr(sorted(payload.items())).encode()).hexdigest()[:20])
        response = get_conditional_response(request, etag=etag) or Response(payload)
        response["ETag"] = etag
        response["Cache-Control"] = "public, max-age=1"
        return response


@extend_schema_view(
    list=extend_schema(
        parameters=[
            OpenApiParameter(
                "status", OpenApiTypes.STR, enum=[s.value for s in Registration.Status], description="Default: active"
            )
        ]
    )
)
class MyRegistrationViewSet(viewsets.GenericViewSet):
    """The signed-in fan's registrations; another fan's are 404."""

    serializer_class = MyRegistrationSerializer
    permission_classes = [permissions.IsAuthenticated]

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):  # schema generation
            return Registration.objects.none()
        if self.action == "list":
            wanted = self.request.query_params.get("status")
            if wanted and wanted not in Registration.Status.values:
                raise ApplicationError(
                    _("Unknown status %(wanted)s.") % {"wanted": repr(wanted)},
                    fields={"status": [_("One of %(status)s.") % {"status": ", ".join(Registration.Status)}]},
                )
            statuses = (wanted,) if wanted else selectors.ACTIVE_STATUSES
            return selectors.registrations_of_fan(fan=self.request.user, statuses=statuses)
        if self.action in ("destroy", "partial_update", "accept", "decline"):
            # The service locks and reads the registration itself: this lookup only proves it is the
            # fan's (anyone else's is a 404), without the session, venue and city a read shows.
            return Registration.objects.filter(fan=self.request.user).only("id", "session_id", "fan_id")
        return selectors.registrations_of_fan(fan=self.request.user, statuses=Registration.Status.values)

    def list(self, request):
        page = selectors.with_waitlist_positions(list(self.paginate_queryset(self.get_queryset())))
        return self.get_paginated_response(self.get_serializer(page, many=True).data)

    def retrieve(self, request, pk=None):
        return Response(self.get_serializer(self.get_object()).data)

    @extend_schema(responses={204: None, 404: ERRORS[404], 409: OpenApiResponse(description="closed")})
    def destroy(self, request, pk=None):
        services.registration_cancel(registration=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=PartyUpdateSerializer,
        responses={200: MyRegistrationSerializer, 409: OpenApiResponse(description="cancelled")},
        description="Make a party smaller (never larger); the freed seats go to the waitlist at once.",
    )
    def partial_update(self, request, pk=None):
        serializer = PartyUpdateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = services.registration_reduce_party(
            registration=self.get_object(), party_size=serializer.validated_data["party_size"]
        )
        return Response(self.get_serializer(self._fresh(registration)).data)

    @extend_schema(
        request=None,
        responses={200: MyRegistrationSerializer, 409: OpenApiResponse(description="offer_expired")},
        description="Accept an offered seat (status `offered`) before its `offer_expires_at`: confirmed.",
    )
    @action(detail=True, methods=["post"])
    def accept(self, request, pk=None):
        registration = services.offer_accept(registration=self.get_object())
        return Response(self.get_serializer(self._fresh(registration)).data)

    @extend_schema(
        request=None,
        responses={200: MyRegistrationSerializer, 409: OpenApiResponse(description="offer_expired")},
        description="Decline an offered seat: the registration is cancelled and the seat passes on.",
    )
    @action(detail=True, methods=["post"])
    def decline(self, request, pk=None):
        registration = services.offer_decline(registration=self.get_object())
        return Response(self.get_serializer(self._fresh(registration)).data)

    def _fresh(self, registration: Registration) -> Registration:
        return selectors.registration_of_fan(fan=self.request.user, registration_id=registration.id)


class RegistrationQrApi(APIView):
    """The fan's ticket as a QR code of the check-in code (own confirmed registrations only)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses={
            (200, "image/svg+xml"): OpenApiTypes.BINARY,
            (200, "image/png"): OpenApiTypes.BINARY,
            404: ERRORS[404],
            409: OpenApiResponse(description="not_confirmed"),
        }
    )
    def get(self, request, pk: int, fmt: str):
        registration = selectors.registration_of_fan(fan=request.user, registration_id=pk)
        if registration.status != Registration.Status.CONFIRMED:
            raise ApplicationError(
                _("Only a confirmed registration has a ticket."), code="not_confirmed", status_code=409
            )
        qr = checkin_qr(registration.checkin_code)
        out = io.BytesIO()
        if fmt == "png":
            qr.save(out, kind="png", scale=8, border=4)
            content_type = "image/png"
        else:
            qr.save(out, kind="svg", scale=8, border=4, xmldecl=False)
            content_type = "image/svg+xml"
        response = HttpResponse(out.getvalue(), content_type=content_type)
        response["Cache-Control"] = "private, no-store"
        return response


def _door_session(request, pk: int) -> Session:
    session = Session.objects.select_related("series").get(id=pk)
    if not services.can_check_in(user=request.user, session=session):
        raise ApplicationError(
            _("Only this session's hosts and organizers run its check-in."), code="permission_denied", status_code=403
        )
    return session


class CheckinApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=CheckinRequestSerializer,
        responses={
            200: CheckinSerializer,
            403: OpenApiResponse(description="permission_denied"),
            404: OpenApiResponse(description="not_found / not_for_this_session"),
            409: OpenApiResponse(
                description="already_checked_in (with checked_in_at, checked_in_by) / cancelled / not_confirmed"
            ),
        },
    )
    def post(self, request, pk: int):
        session = _door_session(request, pk)
        serializer = CheckinRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        registration = services.registration_check_in(
            session=session, checkin_code=serializer.validated_data["checkin_code"], by=request.user
        )
        return Response(CheckinSerializer(registration).data)


class CheckinStatsApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: CheckinStatsSerializer, 403: OpenApiResponse(description="permission_denied")})
    def get(self, request, pk: int):
        session = _door_session(request, pk)
        return Response(CheckinStatsSerializer(selectors.checkin_stats(session=session)).data)


class IsOrganizer(permissions.BasePermission):
    message = "Only organizers manage priority codes."

    def has_permission(self, request, view) -> bool:
        return bool(request.user and request.user.is_authenticated and is_any_organizer(user=request.user))


CODE_FILTERS = [
    OpenApiParameter("series", OpenApiTypes.INT),
    OpenApiParameter("session", OpenApiTypes.INT),
    OpenApiParameter("batch", OpenApiTypes.STR),
]


@extend_schema_view(list=extend_schema(parameters=CODE_FILTERS))
class PriorityCodeViewSet(viewsets.ModelViewSet):
    """Organizers' priority codes. Create one (``code`` optional), or many with ``batch/``;
    ``export/`` gives CSV."""

    serializer_class = PriorityCodeSerializer
    permission_classes = [permissions.IsAuthenticated, IsOrganizer]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self):
        qs = selectors.priority_codes_visible_to(user=self.request.user)
        params = self.request.query_params
        if (series := query_int(params, "series")) is not None:
            qs = qs.filter(series_id=series)
        if (session := query_int(params, "session")) is not None:
            qs = qs.filter(session_id=session)
        if params.get("batch"):
            qs = qs.filter(batch=params["batch"])
        return qs

    def perform_create(self, serializer):
        serializer.instance = services.priority_code_create(by=self.request.user, **serializer.validated_data)

    @extend_schema(request=PriorityCodeUpdateSerializer, responses={200: PriorityCodeSerializer})
    def partial_update(self, request, pk=None):
        code = self.get_object()
        serializer = PriorityCodeUpdateSerializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        code = services.priority_code_update(code=code, by=request.user, **serializer.validated_data)
        return Response(PriorityCodeSerializer(code).data)

    def perform_destroy(self, instance):
        services.priority_code_delete(code=instance, by=self.request.user)

    @extend_schema(request=PriorityCodeBatchSerializer, responses={201: PriorityCodeBatchResultSerializer})
    @action(detail=False, methods=["post"])
    def batch(self, request):
        serializer = PriorityCodeBatchSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        codes = services.priority_code_batch_create(by=request.user, **serializer.validated_data)
        batch = codes[0].batch
        body = {
            "batch": batch,
            "count": len(codes),
            "codes": [c.code for c in codes],
            "csv_url": request.build_absolute_uri(f"/api/priority-codes/export/?batch={batch}"),
        }
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(parameters=CODE_FILTERS, responses={(200, "text/csv"): OpenApiTypes.STR})
    @action(detail=False, methods=["get"])
    def export(self, request):
        """CSV of the codes (filter by series, session or batch), for mail merges and printing."""
        qs = self.get_queryset()
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["code", "series", "session", "max_uses", "uses", "expires_at", "batch"])
        for code in qs.order_by("batch", "code").iterator(chunk_size=1000):
            writer.writerow(
                [
                    code.code,
                    code.series_id or "",
                    code.session_id or "",
                    code.max_uses,
                    code.uses,
                    code.expires_at.isoformat() if code.expires_at else "",
                    code.batch,
                ]
            )
        response = HttpResponse(out.getvalue(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="priority-codes.csv"'
        return response


def _public_session(request, pk: int) -> Session:
    """A session the caller may see (drafts only to their organizers), or 404."""
    from events.selectors import sessions_visible_to

    return sessions_visible_to(user=request.user).select_related("series").get(id=pk)


class SessionDrawApi(APIView):
    """A draw session's draw: anyone reads its state and the seed's hash (the seed once drawn);
    the organizers run it once the entries have closed (it also runs by itself at ``draw_at``)."""

    permission_classes = [permissions.IsAuthenticatedOrReadOnly]

    @extend_schema(responses={200: DrawSerializer})
    def get(self, request, pk: int):
        session = _public_session(request, pk)
        return Response(DrawSerializer(selectors.draw_summary(session=session)).data)

    @extend_schema(
        request=None,
        responses={200: DrawRunSerializer, 409: OpenApiResponse(description="already_drawn / closed")},
    )
    def post(self, request, pk: int):
        session = _public_session(request, pk)
        result = draws.draw_run(session_id=session.id, by=request.user)
        return Response({"confirmed": result.confirmed, "waitlisted": result.waitlisted})


class DrawOrderApi(APIView):
    """The drawn order (after the draw): recompute it with ``tools/draw_recompute.py``."""

    permission_classes = [permissions.AllowAny]

    @extend_schema(responses={200: DrawOrderSerializer, 409: OpenApiResponse(description="not_drawn")})
    def get(self, request, pk: int):
        order = selectors.draw_order(session=_public_session(request, pk))
        if order is None:
            raise ApplicationError(_("The draw has not run yet."), code="not_drawn", status_code=409)
        return Response(DrawOrderSerializer(order).data)
