from django.contrib import admin

from project.admin_mixins import OrganizationScopedAdmin
from streams.models import ExternalCount, Stream


class ExternalCountInline(admin.TabularInline):
    model = ExternalCount
    extra = 0
    readonly_fields = ["platform", "concurrent", "at", "received_at"]


@admin.register(Stream)
class StreamAdmin(OrganizationScopedAdmin, admin.ModelAdmin):
    list_display = ["title", "status", "session", "peak", "total_views", "unique_viewers", "started_at"]
    list_filter = ["status", "organization"]
    search_fields = ["title", "session__title"]
    autocomplete_fields = ["session", "hosts"]
    readonly_fields = ["peak", "total_views", "unique_viewers", "last_concurrent", "started_at", "ended_at"]
    inlines = [ExternalCountInline]
