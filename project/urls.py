from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from calendars.urls import feed_urlpatterns as calendar_feed_urlpatterns
from project import errors
from project.health import LivenessApi, ReadinessApi

handler400 = errors.json_bad_request
handler403 = errors.json_permission_denied
handler404 = errors.json_not_found
handler500 = errors.json_server_error

api_patterns = [
    path("", include("accounts.urls")),
    path("", include("calendars.urls")),
    path("", include("events.urls")),
    path("", include("registrations.urls")),
    path("", include("streams.urls")),
    path("", include("notices.urls")),
    path("health/", ReadinessApi.as_view(), name="health"),
    path("health/ready/", ReadinessApi.as_view(), name="health-ready"),
    path("health/live/", LivenessApi.as_view(), name="health-live"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script as a file of its own, so the docs need no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("redoc/", SpectacularRedocView.as_view(url_name="schema"), name="api-redoc"),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/", include(api_patterns)),
    path("calendar/", include(calendar_feed_urlpatterns)),
    path("", include("frontend.urls")),
]
