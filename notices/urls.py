from django.urls import path

from notices import apis

urlpatterns = [
    path("streams/<int:pk>/follow/", apis.StreamFollowApi.as_view(), name="stream-follow"),
]
