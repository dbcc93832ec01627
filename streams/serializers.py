from rest_framework import serializers

from accounts.models import Organization, User
from events.models import Session
from streams.models import Stream
from streams.selectors import can_manage_stream


class StreamSerializer(serializers.ModelSerializer):
    hosts = serializers.PrimaryKeyRelatedField(many=True, queryset=User.objects.all(), required=False)
    session = serializers.PrimaryKeyRelatedField(
        queryset=Session.objects.select_related("series"), required=False, allow_null=True
    )
    organization = serializers.PrimaryKeyRelatedField(
        queryset=Organization.objects.all(),
        required=False,
        help_text="May be left out by an organizer of exactly one organization, or when a session is given.",
    )
    external_secret = serializers.SerializerMethodField(
        help_text="Key for signing POST /api/streams/{id}/external-counts/ (HMAC-SHA256 of the raw body, hex, "
        "header X-Signature). Shown to the organization's organizers only; null for everyone else. "
        "POST /api/streams/{id}/rotate-secret/ replaces it.",
    )

    class Meta:
        model = Stream
        fields = [
            "id",
            "session",
            "title",
            "status",
            "playback_url",
            "hosts",
            "started_at",
            "ended_at",
            "organization",
            "external_secret",
        ]
        read_only_fields = ["status", "started_at", "ended_at"]

    def get_external_secret(self, stream: Stream) -> str | None:
        request = self.context.get("request")
        if request is not None and can_manage_stream(user=request.user, stream=stream):
            return stream.external_secret
        return None


class StreamStatsSerializer(serializers.Serializer):
    class TimelinePoint(serializers.Serializer):
        at = serializers.DateTimeField()
        concurrent = serializers.IntegerField()

    concurrent = serializers.IntegerField(help_text="Open viewer connections now plus fresh external platforms.")
    peak = serializers.IntegerField(help_text="Highest concurrent value; never decreases.")
    total_views = serializers.IntegerField(help_text="First arrivals (a reload within the grace is not a view).")
    unique_viewers = serializers.IntegerField(help_text="Distinct viewers (HyperLogLog estimate on Redis).")
    timeline = TimelinePoint(many=True, help_text="Concurrent sampled every few seconds while live.")
    status = serializers.CharField(help_text="scheduled, live or ended (the stream's status).")
    stale = serializers.BooleanField(help_text="True when the live store is unreachable: saved figures.")
    platforms = serializers.DictField(
        child=serializers.IntegerField(),
        required=False,
        help_text="Per-platform concurrent ('web' = this site); hosts and organizers only.",
    )


class ExternalCountSerializer(serializers.Serializer):
    platform = serializers.CharField()
    concurrent = serializers.IntegerField()
    at = serializers.DateTimeField()
