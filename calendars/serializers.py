from rest_framework import serializers


class CalendarFeedSerializer(serializers.Serializer):
    url = serializers.URLField(help_text="Private subscription URL; works without login. Keep it secret.")
    webcal_url = serializers.CharField(help_text="The same URL with the webcal: scheme (one-click subscribe).")
    created_at = serializers.DateTimeField()
    rotated_at = serializers.DateTimeField(allow_null=True, help_text="When the URL was last revoked and replaced.")
