from rest_framework import serializers

from streams.models import Stream


class StreamSerializer(serializers.ModelSerializer):
    hosts = serializers.PrimaryKeyRelatedField(many=True, read_only=True)

    class Meta:
        model = Stream
        fields = ["id", "session", "title", "status", "playback_url", "hosts", "started_at", "ended_at"]
        read_only_fields = ["status", "started_at", "ended_at"]
