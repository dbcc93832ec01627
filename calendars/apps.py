from django.apps import AppConfig


class CalendarsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "calendars"

    def ready(self) -> None:
        from calendars import signals
        from calendars.selectors import calendar_links
        from project import hooks

        signals.connect()
        hooks.session_links.register(calendar_links)
