from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import permissions, serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from notices import messages, selectors, services
from notices.models import Notice
from notices.serializers import (
    MarkReadSerializer,
    MessageAcceptedSerializer,
    MessagePreviewSerializer,
    MessageProgressSerializer,
    MessageRecipientSerializer,
    MessageRequestSerializer,
    NoticeSerializer,
    PreferencesSerializer,
)
from project.api import query_bool
from project.errors import ApplicationError


class FollowSerializer(serializers.Serializer):
    following = serializers.BooleanField()


class StreamFollowApi(APIView):
    """Follow a livestream: "starting now" when its hosts set it live (also without a registration)."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None,
        responses={200: FollowSerializer, 201: FollowSerializer, 404: OpenApiResponse(description="not_found")},
        summary="Follow a livestream (idempotent)",
    )
    def post(self, request, pk: int):
        created = services.stream_follow(user=request.user, stream_id=pk)
        return Response({"following": True}, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(request=None, responses={204: None}, summary="Stop following a livestream")
    def delete(self, request, pk: int):
        services.stream_unfollow(user=request.user, stream_id=pk)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MessagesApi(APIView):
    """Organizer messages: preview (``?dry_run=true``) or send."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=MessageRequestSerializer,
        parameters=[OpenApiParameter("dry_run", OpenApiTypes.BOOL, description="Count the recipients; send nothing.")],
        responses={
            202: MessageAcceptedSerializer,
            200: MessagePreviewSerializer,
            400: OpenApiResponse(description="invalid"),
            403: OpenApiResponse(description="permission_denied"),
        },
        summary="Write to the confirmed fans, the waitlist or both of a session, a city's sessions or a series",
    )
    def post(self, request):
        data = MessageRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        values = data.validated_data
        target = messages.target_resolve(
            session_id=values.get("session"), series_id=values.get("series"), city_id=values.get("city")
        )
        if query_bool(request.query_params, "dry_run"):
            count = messages.message_preview(by=request.user, target=target, audience=values["audience"])
            return Response({"recipients": count})
        message = messages.message_send(
            by=request.user,
            target=target,
            audience=values["audience"],
            subject=values["subject"],
            body=values["body"],
        )
        progress = selectors.message_progress(message=message)
        return Response(
            {"id": message.id, "recipients": message.recipients, "status": progress.status},
            status=status.HTTP_202_ACCEPTED,
        )


def _message_or_404(request, pk: int):
    message = selectors.message_of_organizer(user=request.user, message_id=pk)
    if message is None:
        raise ApplicationError(_("There is no such message."), code="not_found", status_code=404)
    return message


class MessageDetailApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        responses={200: MessageProgressSerializer, 404: OpenApiResponse(description="not_found")},
        summary="A message's delivery progress",
    )
    def get(self, request, pk: int):
        progress = selectors.message_progress(message=_message_or_404(request, pk))
        return Response(MessageProgressSerializer(progress).data)


class MessageRecipientsApi(ListAPIView):
    """Who got the message (or will): one row per recipient with its delivery state."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = MessageRecipientSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notice.objects.none()
        return selectors.message_recipients(message=_message_or_404(self.request, self.kwargs["pk"]))


class MyNotificationsApi(ListAPIView):
    """The signed-in fan's notices, newest first (every kind, emailed or not)."""

    permission_classes = [permissions.IsAuthenticated]
    serializer_class = NoticeSerializer

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return Notice.objects.none()
        return selectors.notices_of(user=self.request.user)


class MarkReadApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=MarkReadSerializer,
        responses={204: None, 400: OpenApiResponse(description="invalid")},
        summary="Mark notices read (`ids`; none: all). Ids of other people's notices are ignored.",
    )
    def post(self, request):
        data = MarkReadSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.notices_mark_read(user=request.user, ids=data.validated_data.get("ids"))
        return Response(status=status.HTTP_204_NO_CONTENT)


class PreferencesApi(APIView):
    """Email choices: reminders (also "starting now") and organizer messages. Notices about the
    fan's own seat are always emailed."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: PreferencesSerializer}, summary="My email preferences")
    def get(self, request):
        return Response(services.preferences_of(user=request.user))

    @extend_schema(
        request=PreferencesSerializer,
        responses={200: PreferencesSerializer, 400: OpenApiResponse(description="invalid")},
        summary="Change my email preferences",
    )
    def patch(self, request):
        data = PreferencesSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        return Response(services.preferences_update(user=request.user, changes=dict(data.validated_data)))
