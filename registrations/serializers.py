from django.utils.translation import gettext as _
from rest_framework import serializers

from events.models import Series, Session
from project import formats
from project.api import AwareDateTimeField
from registrations.models import PriorityCode, Registration


class OffsetDateTimeField(serializers.DateTimeField):
    """UTC with an explicit ``+00:00`` offset, as everywhere else in the API."""

    def to_representation(self, value):
        return None if value is None else value.isoformat()


MAX_PARTY = 50  # the input's own bound; each session sets its max_party_size


class RegistrationRequestSerializer(serializers.Serializer):
    priority_code = serializers.CharField(max_length=64, required=False, allow_blank=True, allow_null=True)
    party_size = serializers.IntegerField(
        min_value=1, max_value=MAX_PARTY, required=False, help_text="People in all, the fan included (default 1)."
    )
    companions = serializers.ListField(
        child=serializers.CharField(max_length=100), max_length=MAX_PARTY - 1, required=False,
        help_text="The companions' names (optional).",
    )  # fmt: skip


def registration_request_of(data) -> dict:
    """The validated registration request (``priority_code``, ``party_size``, ``companions``). The
    body of almost every request in a rush is ``{}``, which needs no serializer (its field setup
    costs more than the rest of the request's own Python)."""
    if isinstance(data, dict) and not data:
        return {}
    serializer = RegistrationRequestSerializer(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


class PartyUpdateSerializer(serializers.Serializer):
    party_size = serializers.IntegerField(min_value=1, max_value=MAX_PARTY)


class RegistrationSerializer(serializers.ModelSerializer):
    """The contract's registration. ``checkin_code`` is the fan's ticket: null unless confirmed."""

    checkin_code = serializers.SerializerMethodField()
    created_at = OffsetDateTimeField(read_only=True)
    checked_in_at = OffsetDateTimeField(read_only=True, allow_null=True)
    cancelled_at = OffsetDateTimeField(read_only=True, allow_null=True)
    offer_expires_at = OffsetDateTimeField(read_only=True, allow_null=True)
    waitlist_position = serializers.IntegerField(read_only=True, allow_null=True)
    companions = serializers.ListField(child=serializers.CharField(), read_only=True)

    class Meta:
        model = Registration
        fields = [
            "id",
            "session",
            "status",
            "waitlist_position",
            "checkin_code",
            "created_at",
            "checked_in_at",
            "cancelled_at",
            "party_size",
            "companions",
            "entry_ref",
            "offer_expires_at",
        ]
        read_only_fields = fields

    def get_checkin_code(self, registration: Registration) -> str | None:
        return registration.checkin_code if registration.status == Registration.Status.CONFIRMED else None


def registration_payload(registration: Registration) -> dict:
    """RegistrationSerializer's output, built directly: the registration rush answers thousands of
    these a second, and a ModelSerializer's per-instance field setup costs more than the rest of
    the response (a test keeps the two identical)."""
    confirmed = registration.status == Registration.Status.CONFIRMED
    return {
        "id": registration.id,
        "session": registration.session_id,
        "status": registration.status,
        "waitlist_position": registration.waitlist_position,
        "checkin_code": registration.checkin_code if confirmed else None,
        "created_at": registration.created_at.isoformat(),
        "checked_in_at": registration.checked_in_at.isoformat() if registration.checked_in_at else None,
        "cancelled_at": registration.cancelled_at.isoformat() if registration.cancelled_at else None,
        "party_size": registration.party_size,
        "companions": registration.companions,
        "entry_ref": registration.entry_ref,
        "offer_expires_at": registration.offer_expires_at.isoformat() if registration.offer_expires_at else None,
    }


class SessionSummarySerializer(serializers.ModelSerializer):
    starts_at = serializers.SerializerMethodField()
    city = serializers.CharField(source="city.name", read_only=True)
    venue = serializers.CharField(source="venue.name", read_only=True, default=None, allow_null=True)

    class Meta:
        model = Session
        fields = ["id", "title", "kind", "status", "starts_at", "timezone", "city", "venue"]
        read_only_fields = fields

    def get_starts_at(self, session: Session) -> str:
        return formats.iso_local(session.starts_at, session.timezone)


class MyRegistrationSerializer(RegistrationSerializer):
    session_info = SessionSummarySerializer(source="session", read_only=True)

    class Meta(RegistrationSerializer.Meta):
        fields = [*RegistrationSerializer.Meta.fields, "session_info"]
        read_only_fields = fields


class CheckinRequestSerializer(serializers.Serializer):
    checkin_code = serializers.CharField(max_length=64)


class CheckinSerializer(serializers.ModelSerializer):
    """The door's answer (API.md "Door check-in"): ``registration``, ``fan``, ``party_size``,
    ``checked_in_at``, plus the fan's name to say aloud."""

    registration = serializers.IntegerField(source="id", read_only=True)
    fan_username = serializers.CharField(source="fan.username", read_only=True)
    fan_name = serializers.SerializerMethodField()
    party_size = serializers.SerializerMethodField()
    checked_in_at = OffsetDateTimeField(read_only=True)

    class Meta:
        model = Registration
        fields = [
            "registration",
            "id",
            "session",
            "fan",
            "fan_username",
            "fan_name",
            "party_size",
            "status",
            "checked_in_at",
            "checked_in_by",
        ]
        read_only_fields = fields

    def get_fan_name(self, registration: Registration) -> str:
        return registration.fan.get_full_name() or registration.fan.username

    def get_party_size(self, registration: Registration) -> int:
        """People admitted on this ticket (a party of one until parties exist)."""
        return int(getattr(registration, "party_size", 1) or 1)


class CheckinTimelineSerializer(serializers.Serializer):
    at = OffsetDateTimeField()
    checked_in = serializers.IntegerField()


class CheckinStatsSerializer(serializers.Serializer):
    session = serializers.IntegerField()
    capacity = serializers.IntegerField()
    confirmed = serializers.IntegerField()
    checked_in = serializers.IntegerField()
    not_checked_in = serializers.IntegerField()
    waitlisted = serializers.IntegerField()
    cancelled = serializers.IntegerField()
    checkin_rate = serializers.FloatField()
    first_checkin_at = OffsetDateTimeField(allow_null=True)
    last_checkin_at = OffsetDateTimeField(allow_null=True)
    timeline = CheckinTimelineSerializer(many=True)


class PriorityCodeSerializer(serializers.ModelSerializer):
    """``code`` may be left out on create: a random one is generated."""

    code = serializers.CharField(max_length=64, required=False)
    series = serializers.PrimaryKeyRelatedField(queryset=Series.objects.all(), required=False, allow_null=True)
    session = serializers.PrimaryKeyRelatedField(queryset=Session.objects.all(), required=False, allow_null=True)
    max_uses = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    expires_at = AwareDateTimeField(required=False, allow_null=True)
    weight = serializers.IntegerField(min_value=1, max_value=100, default=1, help_text="Draw weight of an entry.")
    created_at = OffsetDateTimeField(read_only=True)

    class Meta:
        model = PriorityCode
        fields = [
            "id", "code", "series", "session", "max_uses", "uses", "expires_at", "batch", "weight", "created_at",
        ]  # fmt: skip
        read_only_fields = ["id", "uses", "batch", "created_at"]

    def validate(self, attrs):
        if self.instance is None and (attrs.get("series") is None) == (attrs.get("session") is None):
            raise serializers.ValidationError({"series": [_("Give a series or a session (exactly one).")]})
        return attrs


class PriorityCodeUpdateSerializer(serializers.Serializer):
    max_uses = serializers.IntegerField(min_value=1, max_value=1_000_000, required=False)
    expires_at = AwareDateTimeField(required=False, allow_null=True)


class PriorityCodeBatchSerializer(serializers.Serializer):
    series = serializers.PrimaryKeyRelatedField(queryset=Series.objects.all(), required=False, allow_null=True)
    session = serializers.PrimaryKeyRelatedField(queryset=Session.objects.all(), required=False, allow_null=True)
    count = serializers.IntegerField(min_value=1, max_value=5000)
    max_uses = serializers.IntegerField(min_value=1, max_value=1_000_000, default=1)
    weight = serializers.IntegerField(min_value=1, max_value=100, default=1)
    expires_at = AwareDateTimeField(required=False, allow_null=True)
    prefix = serializers.RegexField(r"^[A-Za-z0-9-]{0,12}$", required=False, default="")
    batch = serializers.CharField(max_length=100, required=False, allow_blank=True, default="")

    def validate(self, attrs):
        if (attrs.get("series") is None) == (attrs.get("session") is None):
            raise serializers.ValidationError({"series": [_("Give a series or a session (exactly one).")]})
        return attrs


class PriorityCodeBatchResultSerializer(serializers.Serializer):
    batch = serializers.CharField()
    count = serializers.IntegerField()
    codes = serializers.ListField(child=serializers.CharField())
    csv_url = serializers.CharField()


class SeatsNowSerializer(serializers.Serializer):
    """A session's seats now (``GET /api/sessions/{id}/seats/``), at most a second old."""

    session = serializers.IntegerField()
    status = serializers.ChoiceField(choices=["published", "cancelled"])
    capacity = serializers.IntegerField()
    confirmed_count = serializers.IntegerField()
    waitlist_count = serializers.IntegerField()
    seats_left = serializers.IntegerField()
    waitlist_enabled = serializers.BooleanField()


class DrawSerializer(serializers.Serializer):
    status = serializers.ChoiceField(["upcoming", "open", "closed", "drawn"])
    entries = serializers.IntegerField()
    seats = serializers.IntegerField()
    seed_sha256 = serializers.CharField(allow_null=True)
    seed = serializers.CharField(allow_null=True, help_text="Published once the draw has run.")
    algorithm = serializers.CharField()
    drawn_at = OffsetDateTimeField(allow_null=True)
    entry_opens_at = OffsetDateTimeField(allow_null=True)
    entry_closes_at = OffsetDateTimeField(allow_null=True)
    draw_at = OffsetDateTimeField(allow_null=True)


class DrawnEntrySerializer(serializers.Serializer):
    entry_ref = serializers.CharField()
    weight = serializers.IntegerField()
    party_size = serializers.IntegerField()
    result = serializers.ChoiceField(["confirmed", "waitlisted"])
    waitlist_position = serializers.IntegerField(allow_null=True)


class DrawOrderSerializer(serializers.Serializer):
    seed = serializers.CharField()
    seed_sha256 = serializers.CharField()
    algorithm = serializers.CharField()
    drawn_at = OffsetDateTimeField()
    order = DrawnEntrySerializer(many=True)


class DrawRunSerializer(serializers.Serializer):
    confirmed = serializers.IntegerField()
    waitlisted = serializers.IntegerField()
