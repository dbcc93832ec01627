from django.urls import path

from accounts import apis

urlpatterns = [
    path("auth/signup/", apis.SignupApi.as_view(), name="signup"),
    path("auth/token/", apis.TokenApi.as_view(), name="token"),
    path("ws-ticket/", apis.WebsocketTicketApi.as_view(), name="ws-ticket"),
    path("me/", apis.MeApi.as_view(), name="me"),
    path("auth/verify-email/", apis.VerifyEmailApi.as_view(), name="verify-email"),
    path("me/verify-email/", apis.MyEmailVerificationApi.as_view(), name="my-verify-email"),
]
