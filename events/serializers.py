from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from events.models import City, Series, Session, Venue
from project import content, formats, hooks
from project.api import AwareDateTimeField, TimeZoneField

MAX_SEATS = 1_000_000  # well inside a 32-bit column; no room holds more
MAX_ID = 2**63 - 1  # the largest id a database column holds: bigger ones are errors, not crashes


def IdField(**kwargs) -> serializers.IntegerField:  # noqa: N802 - reads like a field class
    return serializers.IntegerField(min_value=1, max_value=MAX_ID, **kwargs)


class LocalDateTimeField(AwareDateTimeField):
    """Shows a stored UTC time in the session's or venue's own time zone, with its offset."""

    def to_representation(self, value):
        if value is None:
            return None
        tz_name = getattr(getattr(self, "_current_obj", None), "timezone", None)
        return formats.iso_local(value, tz_name or None)


class LocalTimeMixin:
    """Lets LocalDateTimeField know the object being serialized (for its time zone)."""

    def to_representation(self, instance):
        for field in self.fields.values():
            if isinstance(field, LocalDateTimeField):
                field._current_obj = instance
        return super().to_representation(instance)


class TranslatedMixin:
    """Organizer-written texts read in the reader's language where a translation exists, else the
    original; the translation fields themselves are listed too (API.md "Language")."""

    translated = ("title", "description", "name")

    def to_representation(self, instance):
        data = super().to_representation(instance)
        for name in self.translated:
            if name in data and any(f in data for f in content.translation_fields(name)):
                data[name] = content.translated(instance, name)
        return data


def _translation_inputs(*names: str, max_length: int | None = None) -> dict[str, serializers.CharField]:
    """Optional ``<name>_en`` / ``<name>_zh_hans`` inputs."""
    return {
        field: serializers.CharField(
            required=False, allow_blank=True, **({"max_length": max_length} if max_length else {})
        )
        for name in names
        for field in content.translation_fields(name)
    }


class CitySerializer(TranslatedMixin, serializers.ModelSerializer):
    timezone = TimeZoneField()

    class Meta:
        model = City
        fields = [
            "id",
            "name",
            "local_name",
            "latitude",
            "longitude",
            "timezone",
            "organization",
            *content.translation_fields("name"),
        ]
        read_only_fields = ["organization"]


class VenueSerializer(TranslatedMixin, serializers.ModelSerializer):
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
            *content.translation_fields("name"),
        ]
        read_only_fields = ["organization"]


class SeriesSerializer(TranslatedMixin, serializers.ModelSerializer):
    partners = serializers.ListField(child=serializers.CharField(max_length=200), required=False)

    class Meta:
        model = Series
        fields = [
            "id",
            "organization",
            "title",
            "slug",
            "description",
            "partners",
            *content.translation_fields("title"),
            *content.translation_fields("description"),
        ]
        extra_kwargs = {"organization": {"required": False}, "slug": {"required": False}}


class CalendarLinksSerializer(serializers.Serializer):
    """The shape of ``calendar_links`` (filled in by the calendars room through ``hooks.session_links``)."""

    google = serializers.URLField(help_text="Google Calendar 'add event' link (times in UTC).")
    outlook = serializers.URLField(help_text="Outlook on the web 'add event' link (times in UTC).")
    ics = serializers.URLField(help_text="This session as an .ics file.")


class SessionSerializer(TranslatedMixin, LocalTimeMixin, serializers.ModelSerializer):
    starts_at = LocalDateTimeField()
    ends_at = LocalDateTimeField()
    registration_opens_at = LocalDateTimeField(required=False, allow_null=True)
    registration_closes_at = LocalDateTimeField(required=False, allow_null=True)
    priority_opens_at = LocalDateTimeField(required=False, allow_null=True)
    entry_opens_at = LocalDateTimeField(required=False, allow_null=True)
    entry_closes_at = LocalDateTimeField(required=False, allow_null=True)
    draw_at = LocalDateTimeField(required=False, allow_null=True)
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
            "allocation",
            "max_party_size",
            "offer_hold_minutes",
            "offer_cutoff_minutes",
            "entry_opens_at",
            "entry_closes_at",
            "draw_at",
            "draw_new_accounts",
            "offered_count",
            "stream",
            "sequence",
            "cancel_reason",
            "updated_at",
            "calendar_links",
            *content.translation_fields("title"),
            *content.translation_fields("description"),
        ]
        read_only_fields = [
            "confirmed_count",
            "waitlist_count",
            "offered_count",
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
        # Computed by the calendars room (a higher one), which registers the provider.
        return hooks.session_links(session)


# --- input: what organizers send (the services check the business rules) ------------------------


class CityInputSerializer(serializers.Serializer):
    organization = IdField(required=False, help_text="Optional for an organizer of one organization.")
    name = serializers.CharField(max_length=120)
    local_name = serializers.CharField(max_length=120, required=False, allow_blank=True)
    latitude = serializers.FloatField(min_value=-90, max_value=90)
    longitude = serializers.FloatField(min_value=-180, max_value=180)
    timezone = TimeZoneField(max_length=64)
    locals().update(_translation_inputs("name", max_length=120))


class VenueInputSerializer(serializers.Serializer):
    organization = IdField(required=False, help_text="Optional: defaults to the city's.")
    city = IdField()
    name = serializers.CharField(max_length=200)
    address = serializers.CharField(max_length=300, required=False, allow_blank=True)
    latitude = serializers.FloatField(min_value=-90, max_value=90, required=False, help_text="Default: the city's.")
    longitude = serializers.FloatField(min_value=-180, max_value=180, required=False, help_text="Default: the city's.")
    timezone = TimeZoneField(max_length=64, required=False, help_text="Default: the city's.")
    max_capacity = serializers.IntegerField(min_value=0, max_value=MAX_SEATS)
    outdoor = serializers.BooleanField(required=False)
    locals().update(_translation_inputs("name", max_length=200))


class SeriesInputSerializer(serializers.Serializer):
    organization = IdField(required=False, help_text="Optional for an organizer of one organization.")
    title = serializers.CharField(max_length=200)
    slug = serializers.SlugField(max_length=120, required=False)
    description = serializers.CharField(required=False, allow_blank=True)
    partners = serializers.ListField(child=serializers.CharField(max_length=200), required=False)
    locals().update(_translation_inputs("title", max_length=200))
    locals().update(_translation_inputs("description"))


class SessionFieldsSerializer(serializers.Serializer):
    """One session as organizers write it (a plan row too). Times need an offset."""

    kind = serializers.ChoiceField(choices=Session.Kind.choices, required=False)
    title = serializers.CharField(max_length=200)
    description = serializers.CharField(required=False, allow_blank=True)
    city = IdField(required=False, allow_null=True, help_text="Default: the venue's city.")
    venue = IdField(required=False, allow_null=True, help_text="Required except for livestreams.")
    hosts = serializers.ListField(child=IdField(), required=False, help_text="User ids.")
    starts_at = AwareDateTimeField()
    ends_at = AwareDateTimeField()
    capacity = serializers.IntegerField(
        min_value=0, max_value=MAX_SEATS, required=False, help_text="Default: the venue's maximum."
    )
    registration_opens_at = AwareDateTimeField(required=False, allow_null=True)
    registration_closes_at = AwareDateTimeField(required=False, allow_null=True)
    priority_opens_at = AwareDateTimeField(required=False, allow_null=True)
    waitlist_enabled = serializers.BooleanField(required=False)
    # Fair access (README, "Fair access").
    allocation = serializers.ChoiceField(choices=Session.Allocation.choices, required=False)
    max_party_size = serializers.IntegerField(min_value=1, max_value=50, required=False)
    offer_hold_minutes = serializers.IntegerField(min_value=0, max_value=7 * 24 * 60, required=False)
    offer_cutoff_minutes = serializers.IntegerField(min_value=0, max_value=7 * 24 * 60, required=False)
    entry_opens_at = AwareDateTimeField(required=False, allow_null=True)
    entry_closes_at = AwareDateTimeField(required=False, allow_null=True)
    draw_at = AwareDateTimeField(required=False, allow_null=True)
    draw_new_accounts = serializers.BooleanField(required=False)
    # Optional translations of title and description (a plan's CSV takes them as columns too).
    locals().update(_translation_inputs("title", max_length=200))
    locals().update(_translation_inputs("description"))


class SessionInputSerializer(SessionFieldsSerializer):
    series = IdField(help_text="Only when creating.")


class SessionCancelSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=2000)


class PlanUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="CSV with a header row of session fields; hosts separated by ';'.")


class PlannedSessionSerializer(LocalTimeMixin, serializers.Serializer):
    """A session of a plan: saved (with an id) or, in a dry run, as it would be saved."""

    id = serializers.IntegerField(allow_null=True)
    kind = serializers.CharField()
    title = serializers.CharField()
    city = serializers.IntegerField(source="city_id")
    venue = serializers.IntegerField(source="venue_id", allow_null=True)
    hosts = serializers.ListField(child=serializers.IntegerField(), source="planned_host_ids")
    starts_at = LocalDateTimeField()
    ends_at = LocalDateTimeField()
    timezone = serializers.CharField()
    capacity = serializers.IntegerField()
    status = serializers.CharField()


class PlanResultSerializer(serializers.Serializer):
    dry_run = serializers.BooleanField()
    created = serializers.IntegerField()
    count = serializers.SerializerMethodField()
    sessions = PlannedSessionSerializer(many=True)

    def get_count(self, result) -> int:
        return len(result.sessions)


class ConflictSerializer(serializers.Serializer):
    """One conflict of a series (documentation of the shape; kind-specific keys are optional)."""

    kind = serializers.CharField(
        help_text="venue_double_booked, host_double_booked, host_travel or night_shoot_before_dusk."
    )
    field = serializers.CharField(help_text="The session field to change to resolve it.")
    message = serializers.CharField()
    session = serializers.IntegerField()
    sessions = serializers.ListField(child=serializers.IntegerField(), help_text="One or two session ids.")
    first = serializers.DictField()
    second = serializers.DictField(required=False)
    host = serializers.IntegerField(required=False)
    hosts = serializers.ListField(child=serializers.IntegerField(), required=False)
    dusk = serializers.CharField(required=False, allow_null=True, help_text="Civil dusk, local time.")
    changeover_minutes = serializers.IntegerField(required=False)
    distance_km = serializers.FloatField(required=False)
    required_minutes = serializers.IntegerField(required=False)
    available_minutes = serializers.IntegerField(required=False)


class SeriesPublishedSerializer(serializers.Serializer):
    published = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the published drafts.")


class SeriesCancelledSerializer(serializers.Serializer):
    cancelled = serializers.ListField(child=serializers.IntegerField(), help_text="Ids of the cancelled sessions.")
