from django.urls import path

from notices import apis

urlpatterns = [
    path("streams/<int:pk>/follow/", apis.StreamFollowApi.as_view(), name="stream-follow"),
    path("me/notifications/", apis.MyNotificationsApi.as_view(), name="my-notifications"),
    path("me/notifications/read/", apis.MarkReadApi.as_view(), name="my-notifications-read"),
    path("me/preferences/", apis.PreferencesApi.as_view(), name="my-preferences"),
    path("messages/", apis.MessagesApi.as_view(), name="messages"),
    path("messages/<int:pk>/", apis.MessageDetailApi.as_view(), name="message-detail"),
    path("messages/<int:pk>/recipients/", apis.MessageRecipientsApi.as_view(), name="message-recipients"),
]
