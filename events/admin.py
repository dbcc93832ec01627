from django.contrib import admin

from events.models import City, Series, Session, Venue
from project.admin_mixins import OrganizationScopedAdmin


class VenueInline(admin.TabularInline):
    model = Venue
    extra = 0
    fields = ["name", "address", "latitude", "longitude", "timezone", "max_capacity", "outdoor", "organization"]


@admin.register(City)
class CityAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "local_name", "timezone", "latitude", "longitude", "organization"]
    list_filter = ["organization", "timezone"]
    search_fields = ["name", "local_name"]
    inlines = [VenueInline]


@admin.register(Venue)
class VenueAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["name", "city", "max_capacity", "outdoor", "timezone"]
    list_filter = ["outdoor", "city", "organization"]
    search_fields = ["name", "address", "city__name", "city__local_name"]
    autocomplete_fields = ["city"]


class SessionInline(admin.TabularInline):
    model = Session
    extra = 0
    fields = ["title", "kind", "status", "city", "venue", "starts_at", "ends_at", "capacity", "confirmed_count"]
    readonly_fields = ["confirmed_count"]
    autocomplete_fields = ["city", "venue"]
    show_change_link = True
    ordering = ["starts_at"]


@admin.register(Series)
class SeriesAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["title", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["title", "description"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [SessionInline]


@admin.register(Session)
class SessionAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "series__organization"
    list_display = [
        "title",
        "kind",
        "status",
        "city",
        "venue",
        "starts_at",
        "capacity",
        "confirmed_count",
        "waitlist_count",
    ]
    list_filter = ["status", "kind", "series", "city", "waitlist_enabled"]
    list_select_related = ["city", "venue"]
    search_fields = ["title", "description", "city__name", "city__local_name", "venue__name"]
    date_hierarchy = "starts_at"
    autocomplete_fields = ["city", "venue", "hosts"]
    readonly_fields = ["confirmed_count", "waitlist_count", "sequence", "created_at", "updated_at"]
    fieldsets = [
        (None, {"fields": ["series", "kind", "title", "description", "status", "cancel_reason"]}),
        ("Where and when", {"fields": ["city", "venue", "timezone", "starts_at", "ends_at", "hosts"]}),
        (
            "Seats",
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
        ("Calendar", {"fields": ["sequence", "created_at", "updated_at"]}),
    ]
