"""No query string reaches a log: websockets may carry ``?token=`` or ``?ticket=`` in their URL.

``RedactQueryStrings`` cuts everything from ``?`` to the end of each URL in a record's message and
arguments. It is on the console handler of Django's logging (settings.LOGGING) and, through
``install()`` (called by project.asgi and project.wsgi once Django is set up), on the loggers of
uvicorn (its access log and its "WebSocket /path [accepted]" lines) and of Django's development
server, whose handlers are not ours. gunicorn's access log format is set in gunicorn.conf.py.
"""

from __future__ import annotations

import logging
import re

_URL_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")
LOGGERS = ("uvicorn.access", "uvicorn.error", "django.server", "django.request", "gunicorn.access")


def redact(text: str) -> str:
    return _URL_QUERY.sub(r"\1", text)


class RedactQueryStrings(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str) and "?" in record.msg:
            record.msg = redact(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) and "?" in a else a for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: redact(v) if isinstance(v, str) and "?" in v else v for k, v in record.args.items()}
        return True


_installed = False


def install() -> None:
    """Put the filter on the servers' own loggers (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    for name in LOGGERS:
        logging.getLogger(name).addFilter(RedactQueryStrings())
