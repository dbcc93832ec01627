from django.contrib import admin
from django.db import models

from project.admin_mixins import OrganizationScopedAdmin, ServiceBackedAdmin
from streams import services
from streams.models import ExternalCount, Stream


class ExternalCountInline(admin.TabularInline):
    model = ExternalCount
    extra = 0
    readonly_fields = ["platform", "concurrent", "at", "received_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False  # counts come signed from the platforms themselves


@admin.register(Stream)
class StreamAdmin(ServiceBackedAdmin, OrganizationScopedAdmin, admin.ModelAdmin):
    """Streams are planned and edited through the stream services; status moves only through
    start and end (the API or the host dashboard), and the signing secret only by rotation."""

    list_display = ["title", "status", "session", "peak", "total_views", "unique_viewers", "started_at"]
    list_filter = ["status", "organization"]
    search_fields = ["title", "session__title"]
    autocomplete_fields = ["session"]
    filter_horizontal = ["hosts"]
    fields = [
        "organization",
        "title",
        "session",
        "playback_url",
        "audience",
        "replay_url",
        "hosts",
        "status",
        "external_secret",
        "started_at",
        "ended_at",
        "peak",
        "total_views",
        "unique_viewers",
        "last_concurrent",
    ]
    readonly_fields = [
        "status",
        "external_secret",
        "peak",
        "total_views",
        "unique_viewers",
        "last_concurrent",
        "started_at",
        "ended_at",
    ]
    inlines = [ExternalCountInline]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def service_save(self, request, obj, form, change):
        data = {name: form.cleaned_data[name] for name in services.STREAM_FIELDS if name in form.cleaned_data}
        if change:
            return services.stream_update(stream=obj, data=data, by=request.user)
        return services.stream_create(
            organization=form.cleaned_data["organization"],
            title=data["title"],
            session=data.get("session"),
            playback_url=data.get("playback_url", ""),
            hosts=list(data.get("hosts") or []),
            audience=data.get("audience") or "public",
            replay_url=data.get("replay_url", ""),
            by=request.user,
        )
