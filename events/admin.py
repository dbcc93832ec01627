import datetime as dt

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.widgets import AdminSplitDateTime
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from events import services
from events.models import City, Series, Session, Venue
from project import formats
from project.admin_mixins import OrganizationScopedAdmin, ServiceBackedAdmin
from project.content import translation_fields
from project.errors import ApplicationError


def _data(form, names) -> dict:
    return {name: form.cleaned_data[name] for name in names if name in form.cleaned_data}


class VenueInline(admin.TabularInline):
    model = Venue
    extra = 0
    fields = ["name", "address", "timezone", "max_capacity", "outdoor"]
    readonly_fields = fields
    show_change_link = True
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # venues are added on their own page, through the planning services


@admin.register(City)
class CityAdmin(ServiceBackedAdmin, OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "local_name", "timezone", "latitude", "longitude", "organization"]
    list_filter = ["organization", "timezone"]
    search_fields = ["name", "local_name"]
    inlines = [VenueInline]

    def service_save(self, request, obj, form, change):
        data = _data(form, services.CITY_FIELDS)
        if change:
            return services.city_update(city=obj, data=data, by=request.user)
        return services.city_create(organization=form.cleaned_data["organization"], data=data, by=request.user)


@admin.register(Venue)
class VenueAdmin(ServiceBackedAdmin, OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "city", "max_capacity", "outdoor", "timezone"]
    list_filter = ["outdoor", "city", "organization"]
    search_fields = ["name", "address", "city__name", "city__local_name"]
    autocomplete_fields = ["city"]

    def service_save(self, request, obj, form, change):
        data = _data(form, services.VENUE_FIELDS)
        if change:
            return services.venue_update(venue=obj, data=data, by=request.user)
        return services.venue_create(organization=form.cleaned_data["organization"], data=data, by=request.user)


class SessionInline(admin.TabularInline):
    model = Session
    extra = 0
    fields = ["title", "kind", "status", "city", "venue", "local_when", "capacity", "confirmed_count"]
    readonly_fields = fields
    show_change_link = True
    ordering = ["starts_at"]
    can_delete = False

    def get_queryset(self, request):
        # A month is ~130 rows: their cities and venues (whose names include the city) in the same query.
        return super().get_queryset(request).select_related("city", "venue__city")

    @admin.display(description=_("When (venue time)"))
    def local_when(self, session: Session) -> str:
        return formats.when_in_zone(session.starts_at, session.timezone, end=session.ends_at, year=True)

    def has_add_permission(self, request, obj=None):
        # Sessions are planned on their own page (or in bulk through the API), where every rule applies.
        return False


@admin.register(Series)
class SeriesAdmin(ServiceBackedAdmin, OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["title", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["title", "description"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [SessionInline]

    def service_save(self, request, obj, form, change):
        data = _data(form, services.SERIES_FIELDS)
        if change:
            return services.series_update(series=obj, data=data, by=request.user)
        return services.series_create(organization=form.cleaned_data["organization"], data=data, by=request.user)


class CancelForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea,
        help_text=_("Goes into the email every registered fan receives."),
    )


# Times an organizer types for a session: on the venue's clock (the city's for a livestream without a
# venue), whatever the server's TIME_ZONE.
LOCAL_TIME_FIELDS = ("starts_at", "ends_at", "priority_opens_at", "registration_opens_at", "registration_closes_at")


class WallClockField(forms.SplitDateTimeField):
    """A date and a time as typed, without a zone: SessionAdminForm.clean places them in the venue's."""

    def compress(self, data_list):
        if data_list and data_list[0] is not None and data_list[1] is not None:
            return dt.datetime.combine(data_list[0], data_list[1])
        return None


class SessionAdminForm(forms.ModelForm):
    class Meta:
        model = Session
        fields = [*LOCAL_TIME_FIELDS, "venue", "city"]  # the admin adds its fieldsets' fields

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        zone = self.instance.timezone if self.instance.pk else None
        for name in LOCAL_TIME_FIELDS:
            field = self.fields.get(name)
            if field is None:
                continue
            value = getattr(self.instance, name) if self.instance.pk else None
            if value is not None and zone:
                self.initial[name] = formats.local(value, zone).replace(tzinfo=None)
            field.help_text = (
                gettext("On the venue's clock: %(zone)s.") % {"zone": formats.zone_label(timezone.now(), zone)}
                if zone
                else gettext("On the venue's clock (the city's for a livestream without a venue).")
            )

    def _zone(self) -> str | None:
        venue, city = self.cleaned_data.get("venue"), self.cleaned_data.get("city")
        if venue is not None:
            return venue.timezone
        if city is not None:
            return city.timezone
        return self.instance.timezone or None

    def clean(self):
        cleaned = super().clean()
        zone = self._zone()
        for name in LOCAL_TIME_FIELDS:
            value = cleaned.get(name)
            if not isinstance(value, dt.datetime) or value.tzinfo is not None:
                continue
            if zone is None:  # no venue or city to read it in (the form shows that error): the server's zone
                cleaned[name] = timezone.make_aware(value)
                continue
            try:
                cleaned[name] = formats.aware(value, zone)
            except formats.AmbiguousLocalTime:
                self.add_error(name, gettext("The clocks change at this time there: pick another time."))
        return cleaned


@admin.register(Session)
class SessionAdmin(ServiceBackedAdmin, OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "series__organization"
    form = SessionAdminForm
    list_display = [
        "title",
        "kind",
        "status",
        "city",
        "venue",
        "local_start",
        "capacity",
        "confirmed_count",
        "waitlist_count",
    ]
    list_filter = ["status", "kind", "series", "city", "waitlist_enabled"]
    list_select_related = ["city", "venue"]
    search_fields = ["title", "description", "city__name", "city__local_name", "venue__name"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["city", "venue"]
    filter_horizontal = ["hosts"]  # the organization's members (organizers cannot search all users)
    readonly_fields = [
        "status",
        "cancel_reason",
        "timezone",
        "confirmed_count",
        "waitlist_count",
        "sequence",
        "created_at",
        "updated_at",
    ]
    actions = ["publish_sessions", "cancel_sessions"]
    fieldsets = [
        (None, {"fields": ["series", "kind", "title", "description", "status", "cancel_reason"]}),
        (_("Translations"), {"fields": [*translation_fields("title"), *translation_fields("description")]}),
        (_("Where and when"), {"fields": ["city", "venue", "timezone", "starts_at", "ends_at", "hosts"]}),
        (
            _("Seats"),
            {
                "fields": [
                    "capacity",
                    "waitlist_enabled",
                    "priority_opens_at",
                    "registration_opens_at",
                    "registration_closes_at",
                    "confirmed_count",
                    "waitlist_count",
                ]
            },
        ),
        (_("Calendar"), {"fields": ["sequence", "created_at", "updated_at"]}),
    ]

    def formfield_for_dbfield(self, db_field, request, **kwargs):
        if db_field.name in LOCAL_TIME_FIELDS:
            return WallClockField(
                label=db_field.verbose_name.capitalize(), required=not db_field.blank, widget=AdminSplitDateTime
            )
        return super().formfield_for_dbfield(db_field, request, **kwargs)

    @admin.display(description=_("Starts (venue time)"), ordering="starts_at")
    def local_start(self, session: Session) -> str:
        return formats.when_in_zone(session.starts_at, session.timezone, year=True)

    def get_readonly_fields(self, request, obj=None):
        # A session stays in its series; status changes go through the publish and cancel actions.
        return [*self.readonly_fields, "series"] if obj else self.readonly_fields

    def service_save(self, request, obj, form, change):
        data = _data(form, services.SESSION_FIELDS)
        if change:
            return services.session_update(session=obj, data=data, by=request.user)
        return services.session_create(series=form.cleaned_data["series"], data=data, by=request.user)

    @admin.action(description=_("Publish selected sessions"))
    def publish_sessions(self, request, queryset):
        published = 0
        for session in queryset:
            try:
                services.session_publish(session=session, by=request.user)
                published += 1
            except ApplicationError as exc:
                self.message_user(request, f"{session.title}: {exc.message}", messages.ERROR)
        if published:
            self.message_user(
                request,
                ngettext("Published %(count)s session.", "Published %(count)s sessions.", published)
                % {"count": published},
                messages.SUCCESS,
            )

    @admin.action(description=_("Cancel selected sessions (tells every registered fan)"))
    def cancel_sessions(self, request, queryset):
        form = CancelForm(request.POST if "reason" in request.POST else None)
        if not form.is_valid():
            context = {
                **self.admin_site.each_context(request),
                "title": gettext("Cancel sessions"),
                "sessions": queryset,
                "form": form,
                "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
                "opts": self.model._meta,
            }
            return TemplateResponse(request, "admin/events/session/cancel_sessions.html", context)
        for session in queryset:
            services.session_cancel(session=session, reason=form.cleaned_data["reason"], by=request.user)
        count = queryset.count()
        self.message_user(
            request,
            ngettext(
                "Cancelled %(count)s session; the fans are told.",
                "Cancelled %(count)s sessions; the fans are told.",
                count,
            )
            % {"count": count},
            messages.SUCCESS,
        )
        return None
