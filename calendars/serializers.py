from rest_framework import serializers


class CalendarLinksSerializer(serializers.Serializer):
    google = serializers.URLField(help_text="Google Calendar 'add event' link (times in UTC).")
    outlook = serializers.URLField(help_text="Outlook on the web 'add event' link (times in UTC).")
    ics = serializers.URLField(help_text="This session as an .ics file.")


class CalendarFeedSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Private subscription URL; works without login. Keep it secret.")
    webcal_url = serializers.CharField(help_text="The same URL with the webcal: scheme (one-click subscribe).")
    created_at = serializers.DateTimeField()
    rotated_at = serializers.DateTimeField(allow_null=True, help_text="When the URL was last revoked and replaced.")
