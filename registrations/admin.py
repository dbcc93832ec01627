from django.contrib import admin

from project.admin_mixins import OrganizationScopedAdmin
from registrations.models import PriorityCode, Registration


@admin.register(Registration)
class RegistrationAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    organization_path = "session__series__organization"
    list_display = ["fan", "session", "status", "waitlist_position", "checked_in_at", "created_at"]
    list_filter = ["status", "session__series", "session__kind"]
    list_select_related = ["fan", "session"]
    search_fields = ["fan__username", "fan__email", "session__title", "checkin_code"]
    readonly_fields = [
        "session",
        "fan",
        "status",
        "waitlist_position",
        "checkin_code",
        "checked_in_at",
        "checked_in_by",
        "priority_code",
        "created_at",
        "cancelled_at",
    ]

    def has_add_permission(self, request):
        # Seats are taken only through the registration services (capacity, waitlist, codes).
        return False


@admin.register(PriorityCode)
class PriorityCodeAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["code", "series", "session", "uses", "max_uses", "expires_at", "batch"]
    list_filter = ["series", "batch"]
    search_fields = ["code", "batch"]
    autocomplete_fields = ["series", "session"]
    readonly_fields = ["uses"]
