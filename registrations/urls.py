from django.urls import path, re_path
from rest_framework.routers import SimpleRouter

from registrations import apis

router = SimpleRouter()
router.register("registrations", apis.MyRegistrationViewSet, basename="registration")
router.register("priority-codes", apis.PriorityCodeViewSet, basename="priority-code")

qr = apis.RegistrationQrApi.as_view()
my_registrations = apis.MyRegistrationViewSet.as_view({"get": "list"})

urlpatterns = [
    path("sessions/<int:pk>/registrations/", apis.SessionRegistrationApi.as_view(), name="session-register"),
    path("sessions/<int:pk>/seats/", apis.SeatsNowApi.as_view(), name="session-seats"),
    path("sessions/<int:pk>/checkin/", apis.CheckinApi.as_view(), name="session-checkin"),
    path("sessions/<int:pk>/checkin/stats/", apis.CheckinStatsApi.as_view(), name="session-checkin-stats"),
    path("me/registrations/", my_registrations, name="my-registrations"),
    path("sessions/<int:pk>/draw/", apis.SessionDrawApi.as_view(), name="session-draw"),
    path("sessions/<int:pk>/draw/order/", apis.DrawOrderApi.as_view(), name="session-draw-order"),
    re_path(
        r"^registrations/(?P<pk>[0-9]+)/qr\.(?P<fmt>svg|png)$", apis.RegistrationQrApi.as_view(), name="registration-qr"
    ),
    *router.urls,
]
