"""``urlpatterns`` go under /api/ (before the events router, whose ``sessions/<pk>/`` would not
match ``calendar.ics`` anyway, but order keeps it obvious); ``feed_urlpatterns`` under /calendar/."""

from django.urls import path, re_path

from calendars import apis

urlpatterns = [
    path("sessions/<int:pk>/calendar.ics", apis.SessionCalendarApi.as_view(), name="session-calendar-ics"),
    path("series/<int:pk>/calendar.ics", apis.SeriesCalendarApi.as_view(), name="series-calendar-ics"),
    path("me/calendar-feed/", apis.MyCalendarFeedApi.as_view(), name="my-calendar-feed"),
]

feed_urlpatterns = [
    re_path(r"^feed/(?P<token>[A-Za-z0-9_-]{1,128})\.ics$", apis.FanFeedIcsApi.as_view(), name="calendar-feed-ics"),
]
