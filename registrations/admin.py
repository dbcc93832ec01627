from django.contrib import admin

from project.admin_mixins import OrganizationScopedAdmin, ServiceBackedAdmin
from registrations import services
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

    def has_delete_permission(self, request, obj=None):
        # Deleting a row would leave its seat counted; a seat is given back by cancelling. This
        # also keeps the admin from deleting a session or series that has registrations.
        return False


@admin.register(PriorityCode)
class PriorityCodeAdmin(ServiceBackedAdmin, OrganizationScopedAdmin, admin.ModelAdmin):
    """Codes are created and changed through the priority-code services: the organization is the
    one of the code's series or session, which must be one the signed-in user organizes."""

    list_display = ["code", "series", "session", "uses", "max_uses", "expires_at", "batch"]
    list_filter = ["series", "batch"]
    search_fields = ["code", "batch"]
    autocomplete_fields = ["series", "session"]
    fields = ["code", "organization", "series", "session", "max_uses", "uses", "expires_at", "batch"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ["organization", "uses"]
        # Only the number of uses and the expiry of an existing code change.
        return ["code", "organization", "series", "session", "uses", "batch"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form_class = super().get_form(request, obj, change=change, **kwargs)
        if "code" in form_class.base_fields:
            form_class.base_fields["code"].required = False
            form_class.base_fields["code"].help_text = "Leave empty for a random code."
        return form_class

    def service_save(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            return services.priority_code_update(
                code=obj, by=request.user, max_uses=data["max_uses"], expires_at=data.get("expires_at")
            )
        return services.priority_code_create(
            by=request.user,
            series=data.get("series"),
            session=data.get("session"),
            code=data.get("code") or None,
            max_uses=data["max_uses"],
            expires_at=data.get("expires_at"),
            batch=data.get("batch") or "",
        )

    def delete_model(self, request, obj):
        services.priority_code_delete(code=obj, by=request.user)

    def delete_queryset(self, request, queryset):
        for code in queryset:
            services.priority_code_delete(code=code, by=request.user)
