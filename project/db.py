"""Database helpers shared by the apps."""

import contextlib
from collections.abc import Iterator

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.utils import CursorWrapper


@contextlib.contextmanager
def prepared_cursor() -> Iterator[CursorWrapper]:
    """A cursor for the few statements that run on every request of a rush (the token lookup and
    the registration). On PostgreSQL it sends its parameters apart from the statement, so psycopg
    can prepare the statement on each connection (``prepare_threshold``, set from
    DB_PREPARED_STATEMENTS) and PostgreSQL stops parsing and planning it on every request. Django's
    own cursors bind parameters on the client and are never prepared, which is why this is opt-in.
    Errors and query logging (DEBUG, CaptureQueriesContext) are those of any Django cursor.
    Elsewhere it is an ordinary cursor."""
    db = connections[DEFAULT_DB_ALIAS]  # one lookup: each attribute of the proxy looks it up again
    if db.vendor != "postgresql":
        with db.cursor() as cursor:
            yield cursor
        return
    from django.db.backends.postgresql.base import ServerBindingCursor

    db.close_if_health_check_failed()
    db.ensure_connection()
    db.validate_thread_sharing()
    with db.wrap_database_errors:
        raw = ServerBindingCursor(db.connection)
    cursor = db.make_debug_cursor(raw) if db.queries_logged else db.make_cursor(raw)
    with cursor:
        yield cursor
