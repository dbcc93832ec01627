"""No token or ticket in a URL is ever written to a log: gunicorn's access log (gunicorn.conf.py),
Django's logging (settings.LOGGING); uvicorn's is tested on a real server in
tests/streams/test_live_servers.py."""

import logging
import subprocess
import sys
import time

import httpx
import pytest
from django.conf import settings

from project.log_filters import RedactQueryStrings, redact

SECRET = "s3cr3t-token-value-0123456789"  # noqa: S105 - a made-up token


def test_redact_cuts_every_query_string_and_keeps_the_path():
    line = f'127.0.0.1 - "GET /api/health/?token={SECRET}&x=1 HTTP/1.1" 200 "/ws/streams/1/?ticket={SECRET}"'
    assert redact(line) == '127.0.0.1 - "GET /api/health/ HTTP/1.1" 200 "/ws/streams/1/"'


def test_the_filter_on_django_logging_redacts_messages_and_arguments(caplog):
    logger = logging.getLogger("aperture.test.redaction")
    logger.addFilter(RedactQueryStrings())
    with caplog.at_level(logging.INFO, logger="aperture.test.redaction"):
        logger.info('"%s" %s', f"GET /calendar/?token={SECRET} HTTP/1.1", 200)
        logger.info(f"Not Found: /api/x/?ticket={SECRET}")
    assert [r.getMessage() for r in caplog.records] == ['"GET /calendar/ HTTP/1.1" 200', "Not Found: /api/x/"]


def test_settings_put_the_filter_on_the_console_handler():
    console = settings.LOGGING["handlers"]["console"]
    assert "no_query_strings" in console["filters"]


@pytest.mark.server
def test_gunicorn_access_log_has_paths_without_query_strings(tmp_path):
    from tests.streams.conftest import free_port

    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "project.wsgi:application", "--bind", f"127.0.0.1:{port}"]
        + ["--workers", "1", "--access-logfile", "-", "--error-logfile", "-"],
        cwd=settings.BASE_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/api/health/live/?token={SECRET}", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "gunicorn did not start"
                time.sleep(0.2)
        assert response.status_code == 200
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    assert "GET /api/health/live/ HTTP/1.1" in output
    assert SECRET not in output
