"""WSGI entry point: production serves the REST API here (gunicorn), it answers plain HTTP
several times faster than the ASGI stack does."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "project.settings")
application = get_wsgi_application()

from project.log_filters import install as redact_query_strings_in_logs  # noqa: E402

redact_query_strings_in_logs()
