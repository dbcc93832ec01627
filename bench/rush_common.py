"""What the rush benchmarks share: the scratch database made ready, signed-in bench fans, and the
server measured (gunicorn as production runs it, or a running one at ``--base-url``)."""

import os
import tempfile
from pathlib import Path

from bench.registration_rush import django_setup, ensure_database, external_server, reset, running_server


def prepare_database(database_url: str, redis_url: str) -> None:
    """Creates and migrates the scratch database, with Redis as the server will use it (sessions
    made here are read there), and empties the previous run's bench sessions."""
    ensure_database(database_url)
    os.environ["REDIS_URL"] = redis_url
    # The prefix the measured gunicorn gets (registration_rush.running_server): the fans' sessions
    # are then in the cache the server reads, as they are after a real sign-in, not only in the database.
    os.environ["REDIS_PREFIX"] = f"aperture-bench-{os.getpid()}"
    django_setup(database_url)
    from django.core.management import call_command

    from events.models import Session

    call_command("migrate", verbosity=0)
    reset(list(Session.objects.filter(series__slug="bench-rush").values_list("id", flat=True)))


def fan_session_keys(count: int, skip: int = 0) -> list[tuple[int, str]]:
    """(fan id, session key) of ``count`` bench fans (in username order, after the first ``skip``),
    signed in the way Django's login signs in (no password hashing)."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.cached_db import SessionStore

    from accounts.models import User

    keys = []
    for fan in User.objects.filter(username__startswith="bench-fan-").order_by("username")[skip : skip + count]:
        store = SessionStore()
        store[SESSION_KEY] = str(fan.pk)
        store[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
        store[HASH_SESSION_KEY] = fan.get_session_auth_hash()
        store.create()
        keys.append((fan.pk, store.session_key))
    return keys


def measured_server(args):
    """The server under test: ``args.base_url`` when given, else gunicorn with production's
    throttles and cache in ``args.redis_url`` (``args.workers`` x ``args.threads``)."""
    if args.base_url:
        return external_server(args.base_url)
    return running_server(
        "gunicorn",
        database_url=args.database_url,
        workers=args.workers,
        threads=args.threads,
        pool_size=10,
        log=Path(tempfile.mkdtemp()) / "server.log",
        throttle_redis=args.redis_url,
    )


def postgres_pids() -> list[int]:
    """The PostgreSQL backends of this database now (the server's connections persist)."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return [pid for (pid,) in cursor.fetchall()]
