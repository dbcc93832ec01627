"""Token authentication for the registration rush: the same rules as DRF's TokenAuthentication
(``Authorization: Token <key>``; unknown key or inactive user -> 401), with the token and user
read by one hand-written join instead of an ORM ``select_related`` query. Compiling that query
cost more CPU than everything else the registration endpoint does in the database. PostgreSQL
only, where the join is also a prepared statement (``project.db.prepared_cursor``); elsewhere DRF's
own lookup, because a raw SQLite row holds text where the model wants datetimes."""

from django.contrib.auth import get_user_model
from django.db import connection
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authtoken.models import Token

from project.db import prepared_cursor
from project.i18n import TokenAuthentication


def _user_sql() -> tuple[str, list[str]]:
    user_model = get_user_model()
    fields = user_model._meta.concrete_fields
    columns = ", ".join(f'u."{f.column}"' for f in fields)
    sql = (
        f"SELECT {columns} FROM {user_model._meta.db_table} u "  # noqa: S608 - names from the model, key bound
        f"JOIN {Token._meta.db_table} t ON t.user_id = u.id WHERE t.key = %s"
    )
    return sql, [f.attname for f in fields]


class RushTokenAuthentication(TokenAuthentication):
    _query: tuple[str, list[str]] | None = None

    def authenticate_credentials(self, key):
        if connection.vendor != "postgresql":  # a raw SQLite row holds text for datetimes
            return super().authenticate_credentials(key)
        if RushTokenAuthentication._query is None:
            RushTokenAuthentication._query = _user_sql()
        sql, attnames = RushTokenAuthentication._query
        with prepared_cursor() as cursor:
            cursor.execute(sql, [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = get_user_model().from_db(connection.alias, attnames, row)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, Token(key=key, user=user)


class RushTokenScheme(OpenApiAuthenticationExtension):
    """The same header as DRF's token scheme, documented for the registration endpoint."""

    target_class = RushTokenAuthentication
    name = "registrationTokenAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": 'Token-based authentication with required prefix "Token"',
        }
