"""deploy/backup.py: a dump of the live database restores, for real, into a scratch database."""

import subprocess
import sys
import urllib.parse
import uuid

import psycopg
import pytest
from django.conf import settings
from django.db import connection

from registrations.models import Registration
from tests.factories import RegistrationFactory, SessionFactory, UserFactory
from tests.frontend.live_server import server_database_url

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BACKUP = str(settings.BASE_DIR / "deploy" / "backup.py")


def test_a_dump_restores_into_a_scratch_database_with_every_row(tmp_path):
    if connection.vendor != "postgresql":
        pytest.skip("backups are pg_dump / pg_restore (PostgreSQL)")
    session = SessionFactory(capacity=30, title="Longmen by night 龙门夜游")
    for fan in [UserFactory() for _ in range(3)]:
        RegistrationFactory(session=session, fan=fan)
    source_url = server_database_url(tmp_path)
    dumped = subprocess.run(
        [sys.executable, BACKUP, "--env-file", str(tmp_path / "none"), "dump", "--dir", str(tmp_path), "--keep", "1"],
        env={"DATABASE_URL": source_url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert dumped.returncode == 0, dumped.stdout + dumped.stderr
    (dump_file,) = tmp_path.glob("*.dump")

    scratch = f"aperture_restore_{uuid.uuid4().hex[:12]}"
    scratch_url = urllib.parse.urlsplit(source_url)._replace(path=f"/{scratch}").geturl()
    admin_url = urllib.parse.urlsplit(source_url)._replace(path="/postgres").geturl()
    try:
        restored = subprocess.run(
            [sys.executable, BACKUP, "restore", str(dump_file), "--into", scratch_url],
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert restored.returncode == 0, restored.stdout + restored.stderr
        with psycopg.connect(scratch_url) as copy:
            title = copy.execute("SELECT title FROM events_session WHERE id = %s", [session.id]).fetchone()
            registrations = copy.execute(
                "SELECT count(*) FROM registrations_registration WHERE session_id = %s", [session.id]
            ).fetchone()
            migrations = copy.execute("SELECT count(*) FROM django_migrations").fetchone()
        assert title == ("Longmen by night 龙门夜游",)
        assert registrations == (Registration.objects.filter(session=session).count(),) == (3,)
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM django_migrations")
            assert migrations == cursor.fetchone()
        assert f"registrations_registration {Registration.objects.count()}" in restored.stdout

        # A database that already has tables is refused, not overwritten.
        again = subprocess.run(
            [sys.executable, BACKUP, "restore", str(dump_file), "--into", scratch_url],
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert again.returncode == 2 and "already has" in again.stdout
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
