from rest_framework import serializers

from accounts.models import Organization, User
from events.models import Session
from streams.models import Stream
from streams.selectors import WatchRights, can_manage_stream


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
            "audience",
            "replay_url",
            "can_watch",
        ]
        read_only_fields = ["status", "started_at", "ended_at"]
        extra_kwargs = {
            "audience": {
                "help_text": "Who may watch and get playback_url: public (everyone, the default), registered "
                "(any registration of the session that is not cancelled: waitlisted and not drawn fans "
                "included) or confirmed (a confirmed seat). Hosts and organizers always may."
            },
            "replay_url": {"help_text": "Where to watch it again once it has ended (may be set at any time)."},
        }

    playback_url = serializers.URLField(
        max_length=500,
        required=False,
        allow_blank=True,
        allow_null=True,
        help_text="HLS (.m3u8, played in the stream page) or another platform's page (embedded where it "
        "offers an embed). null for a reader outside the stream's audience (see can_watch).",
    )
    can_watch = serializers.SerializerMethodField(
        help_text="Whether the reader is in the stream's audience (and so gets playback_url)."
    )

    def _rights(self) -> WatchRights | None:
        request = self.context.get("request")
        if request is None:
            return None
        if "watch_rights" not in self.context:  # one per request: one query for the reader's seats
            self.context["watch_rights"] = WatchRights(request.user)
        return self.context["watch_rights"]

    def get_can_watch(self, stream: Stream) -> bool:
        rights = self._rights()
        return rights is None or rights.may_watch(stream)

    def validate_playback_url(self, value: str | None) -> str:
        return value or ""

    def to_representation(self, instance: Stream) -> dict:
        data = super().to_representation(instance)
        if not data.get("can_watch", True):
            data["playback_url"] = None
        return data

    def get_external_secret(self, stream: Stream) -> str | None:
        request = self.context.get("request")
        if request is not None and can_manage_stream(user=request.user, stream=stream):
            return stream.external_secret
        return None


class ExternalFigureSerializer(serializers.Serializer):
    platform = serializers.CharField()
    metric = serializers.ChoiceField(choices=["concurrent", "views", "popularity"])
    value = serializers.IntegerField()
    at = serializers.DateTimeField()


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
    external = ExternalFigureSerializer(
        many=True,
        required=False,
        help_text="Every platform's last figure by metric (views and popularity are never in concurrent); "
        "hosts and organizers only.",
    )
    registered = serializers.IntegerField(
        required=False, help_text="The session's registrations that are not cancelled; hosts and organizers only."
    )
    checked_in = serializers.IntegerField(
        required=False, help_text="Checked in at the door; hosts and organizers only."
    )


class ExternalCountSerializer(serializers.Serializer):
    platform = serializers.CharField()
    metric = serializers.CharField(help_text="concurrent, views or popularity")
    concurrent = serializers.IntegerField(help_text="The reported figure (named so for old clients).")
    value = serializers.IntegerField(source="concurrent", help_text="The reported figure.")
    at = serializers.DateTimeField()


class ReportPlatformSerializer(serializers.Serializer):
    platform = serializers.CharField(help_text="'web' is this site.")
    metric = serializers.ChoiceField(choices=["concurrent", "views", "popularity"])
    value = serializers.IntegerField(help_text="Peak for concurrent and popularity, the last total for views.")
    last = serializers.IntegerField(help_text="The last figure reported.")


class CurvePointSerializer(serializers.Serializer):
    at = serializers.DateTimeField()
    concurrent = serializers.IntegerField()


class StreamReportSerializer(serializers.Serializer):
    final = serializers.BooleanField(help_text="True once the stream has ended: the figures never change again.")
    status = serializers.CharField()
    started_at = serializers.DateTimeField(allow_null=True)
    ended_at = serializers.DateTimeField(allow_null=True)
    peak = serializers.IntegerField(help_text="Highest concurrent audience (this site plus concurrent platforms).")
    peak_at = serializers.DateTimeField(allow_null=True)
    average_concurrent = serializers.FloatField(help_text="Mean of the samples taken while live.")
    median_concurrent = serializers.FloatField()
    total_views = serializers.IntegerField()
    unique_viewers = serializers.IntegerField()
    average_watch_seconds = serializers.FloatField(
        help_text="This site's viewer-seconds (the audience curve's area) divided by its views."
    )
    registered_watched = serializers.FloatField(
        help_text="Share (0..1) of the session's registered fans (not cancelled) who watched signed in."
    )
    registered_fans = serializers.IntegerField()
    registered_fans_watched = serializers.IntegerField()
    curve = CurvePointSerializer(many=True)
    platforms = ReportPlatformSerializer(many=True)
