import zoneinfo

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from calendars.selectors import calendar_links
from calendars.serializers import CalendarLinksSerializer
from events.models import City, Series, Session, Venue
from project.api import AwareDateTimeField, TimeZoneField


class LocalDateTimeField(AwareDateTimeField):
    """Shows a stored UTC time in the session's or venue's own time zone, with its offset."""

    def to_representation(self, value):
        if value is None:
            return None
        tz_name = getattr(getattr(self, "_current_obj", None), "timezone", None)
        if tz_name:
            value = value.astimezone(zoneinfo.ZoneInfo(tz_name))
        return value.isoformat()


class LocalTimeMixin:
    """Lets LocalDateTimeField know the object being serialized (for its time zone)."""

    def to_representation(self, instance):
        for field in self.fields.values():
            if isinstance(field, LocalDateTimeField):
                field._current_obj = instance
        return super().to_representation(instance)


class CitySerializer(serializers.ModelSerializer):
    timezone = TimeZoneField()

    class Meta:
        model = City
        fields = ["id", "name", "local_name", "latitude", "longitude", "timezone", "organization"]
        read_only_fields = ["organization"]


class VenueSerializer(serializers.ModelSerializer):
    timezone = TimeZoneField()

    class Meta:
        model = Venue
        fields = [
            "id",
            "name",
            "city",
            "address",
            "latitude",
            "longitude",
            "timezone",
            "max_capacity",
            "outdoor",
            "organization",
        ]
        read_only_fields = ["organization"]


class SeriesSerializer(serializers.ModelSerializer):
    partners = serializers.ListField(child=serializers.CharField(max_length=200), required=False)

    class Meta:
        model = Series
        fields = ["id", "organization", "title", "slug", "description", "partners"]
        extra_kwargs = {"organization": {"required": False}, "slug": {"required": False}}


class SessionSerializer(LocalTimeMixin, serializers.ModelSerializer):
    starts_at = LocalDateTimeField()
    ends_at = LocalDateTimeField()
    registration_opens_at = LocalDateTimeField(required=False, allow_null=True)
    registration_closes_at = LocalDateTimeField(required=False, allow_null=True)
    priority_opens_at = LocalDateTimeField(required=False, allow_null=True)
    timezone = serializers.CharField(read_only=True)
    hosts = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    seats_left = serializers.IntegerField(read_only=True)
    stream = serializers.SerializerMethodField()
    calendar_links = serializers.SerializerMethodField()

    class Meta:
        model = Session
        fields = [
            "id",
            "series",
            "kind",
            "title",
            "description",
            "city",
            "venue",
            "hosts",
            "starts_at",
            "ends_at",
            "timezone",
            "capacity",
            "status",
            "registration_opens_at",
            "registration_closes_at",
            "priority_opens_at",
            "waitlist_enabled",
            "confirmed_count",
            "waitlist_count",
            "seats_left",
            "stream",
            "sequence",
            "cancel_reason",
            "updated_at",
            "calendar_links",
        ]
        read_only_fields = [
            "confirmed_count",
            "waitlist_count",
            "seats_left",
            "sequence",
            "cancel_reason",
            "updated_at",
            "status",
        ]

    def get_stream(self, session: Session) -> int | None:
        try:
            stream = session.stream
        except Session.stream.RelatedObjectDoesNotExist:
            return None
        return stream.id if stream else None

    @extend_schema_field(CalendarLinksSerializer)
    def get_calendar_links(self, session: Session) -> dict[str, str]:
        return calendar_links(session)
