"""The outbox in the admin, read-only: operators see what was sent, what failed (with the error)
and what waits for a retry. Notices are written by services only."""

from django.contrib import admin

from notices.models import Notice, OrganizerMessage


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Notice)
class NoticeAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "recipient", "subject", "delivery", "attempts", "resends", "created_at", "sent_at"]
    list_filter = ["kind", "delivery"]
    search_fields = ["recipient__username", "email", "subject"]
    list_select_related = ["recipient"]
    raw_id_fields = ["recipient", "session", "message"]


@admin.register(OrganizerMessage)
class OrganizerMessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "subject", "audience", "recipients", "organization", "created_at"]
    list_select_related = ["organization"]
    raw_id_fields = ["author", "session", "series", "city", "organization"]
