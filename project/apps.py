from django.apps import AppConfig


class ProjectConfig(AppConfig):
    """Project-wide wiring of the REST layer (no models)."""

    name = "project"
    verbose_name = "Aperture"

    def ready(self) -> None:
        from project.api import refuse_numbers_as_text

        refuse_numbers_as_text()
