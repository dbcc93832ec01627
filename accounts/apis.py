from django.contrib.auth import authenticate
from django.utils import translation
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from accounts import selectors, services
from accounts.serializers import (
    LanguageSerializer,
    MeSerializer,
    SignupSerializer,
    TokenRequestSerializer,
    TokenSerializer,
    VerifyTokenSerializer,
    WebsocketTicketSerializer,
)
from project.errors import ApplicationError
from project.i18n import recipient_language


def me_payload(user) -> dict:
    return {
        "id": user.id,
        "username": user.username,
        "email": user.email,
        "roles": selectors.user_roles(user=user),
        # The saved choice, else the language this answer is in.
        "language": user.language or translation.get_language() or recipient_language(user),
        "email_verified": user.email_verified,
    }


class SignupApi(APIView):
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "signup"

    @extend_schema(request=SignupSerializer, responses={201: MeSerializer})
    def post(self, request):
        serializer = SignupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.user_signup(**serializer.validated_data, language=translation.get_language() or "")
        return Response(me_payload(user), status=status.HTTP_201_CREATED)


class TokenApi(APIView):
    """POST: sign in for a token (no authentication, so a stale session or token cannot get in the
    way). DELETE: revoke the caller's token."""

    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "login"

    def _signing_in(self) -> bool:
        return getattr(self.request, "method", "POST") == "POST"

    def get_authenticators(self):
        return [] if self._signing_in() else super().get_authenticators()

    def get_permissions(self):
        return [permissions.AllowAny()] if self._signing_in() else [permissions.IsAuthenticated()]

    def get_throttles(self):
        return super().get_throttles() if self._signing_in() else []

    @extend_schema(
        request=TokenRequestSerializer,
        responses={200: TokenSerializer},
        description="Sign in: the caller's API token, for `Authorization: Token <token>`.",
    )
    def post(self, request):
        serializer = TokenRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = authenticate(request, **serializer.validated_data)
        if user is None:
            raise ApplicationError(
                _("Unknown username or wrong password."), code="invalid_credentials", status_code=400
            )
        return Response({"token": services.token_for(user=user)})

    @extend_schema(
        request=None,
        responses={204: None},
        description="Revoke the caller's API token (and its websocket tickets): it stops working at once.",
    )
    def delete(self, request):
        services.token_revoke(user=request.user)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebsocketTicketApi(APIView):
    """A single-use ticket for opening one websocket as the caller: ``/ws/...?ticket=<ticket>``."""

    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None,
        responses={201: WebsocketTicketSerializer},
        description="A ticket for one websocket connection (`?ticket=`): single use, valid for 60 seconds "
        "(WS_TICKET_SECONDS). Use it instead of putting the API token in a URL.",
    )
    def post(self, request):
        ticket = services.websocket_ticket_issue(user=request.user)
        return Response({"ticket": ticket}, status=status.HTTP_201_CREATED)


class MeApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(responses={200: MeSerializer})
    def get(self, request):
        return Response(me_payload(request.user))

    @extend_schema(request=LanguageSerializer, responses={200: MeSerializer})
    def patch(self, request):
        """Changes the caller's language (``zh-hans`` or ``en``); the answer is in the new one."""
        serializer = LanguageSerializer(data=request.data, partial=True)  # a PATCH: nothing sent, nothing changed
        serializer.is_valid(raise_exception=True)
        user = request.user
        if "language" in serializer.validated_data:
            user = services.user_language_set(user=user, language=serializer.validated_data["language"])
            translation.activate(user.language)
        return Response(me_payload(user))


class VerifyEmailApi(APIView):
    """Follow the link sent by email: the token proves the address (no sign-in needed)."""

    permission_classes = [permissions.AllowAny]
    authentication_classes: list = []

    @extend_schema(
        request=VerifyTokenSerializer,
        responses={200: MeSerializer},
        description="Verify an email address with the token of the link sent by `POST /api/me/verify-email/`.",
    )
    def post(self, request):
        serializer = VerifyTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = services.email_verify(token=serializer.validated_data["token"])
        return Response(me_payload(user))


class MyEmailVerificationApi(APIView):
    permission_classes = [permissions.IsAuthenticated]

    @extend_schema(
        request=None,
        responses={202: None},
        description="Send a new verification link to the caller's email address (draws need a verified one).",
    )
    def post(self, request):
        services.email_verification_send(user=request.user)
        return Response(status=status.HTTP_202_ACCEPTED)
