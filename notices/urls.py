from django.urls import path

from notices import apis

urlpatterns = [
    path("streams/<int:pk>/follow/", apis.StreamFollowApi.as_view(), name="stream-follow"),
    path("messages/", apis.MessagesApi.as_view(), name="messages"),
    path("messages/<int:pk>/", apis.MessageDetailApi.as_view(), name="message-detail"),
    path("messages/<int:pk>/recipients/", apis.MessageRecipientsApi.as_view(), name="message-recipients"),
]
