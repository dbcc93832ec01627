from django.apps import AppConfig


class RegistrationsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "registrations"

    def ready(self) -> None:
        from project import hooks
        from registrations.services import waitlist_fill

        hooks.session_capacity_raised.connect(waitlist_fill)
