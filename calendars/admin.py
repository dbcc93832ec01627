from django.contrib import admin

from calendars.models import CalendarFeed


@admin.register(CalendarFeed)
class CalendarFeedAdmin(admin.ModelAdmin):
    list_display = ["user", "created_at", "rotated_at"]
    search_fields = ["user__username"]
    readonly_fields = ["token", "created_at", "rotated_at"]
