"""Token authentication for the registration rush: the same rules as DRF's TokenAuthentication
(``Authorization: Token <key>``; unknown key or inactive user -> 401), with the token and user
read by one hand-written join instead of an ORM ``select_related`` query. Compiling that query
cost more CPU than everything else the registration endpoint does in the database. On PostgreSQL
the join is also a prepared statement (``project.db.prepared_cursor``); the user is built from the
row as the per-request session lookup builds it (``accounts.backends.user_from_row``), with only the
columns a request acting for the fan needs (``ACTING_FIELDS``; Django loads any other on demand).
``request.auth`` is the token's key: nothing here reads a ``Token`` object, so none is built."""

from functools import cache

from django.db import connection
from django.http import HttpRequest
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import exceptions
from rest_framework.authtoken.models import Token

from accounts.backends import ACTING_FIELDS, user_columns, user_from_row
from accounts.models import User
from project.db import prepared_cursor
from project.i18n import TokenAuthentication, activate_for_user


@cache
def _token_user_sql() -> str:
    quote = connection.ops.quote_name
    return (
        f"SELECT {user_columns(ACTING_FIELDS)} FROM {quote(User._meta.db_table)} u "  # noqa: S608 - names from the model, key bound
        f"JOIN {quote(Token._meta.db_table)} t ON t.user_id = u.id WHERE t.key = %s"
    )


# The active fan that ``registrations.rush`` already found for this request's token, if it ran.
FAN_FOUND = "_registration_fan"


def token_key(request: HttpRequest) -> str | None:
    """The key of ``Authorization: Token <key>`` as DRF's TokenAuthentication reads it, or None
    for any other header (DRF's authentication answers a malformed one)."""
    parts = request.META.get("HTTP_AUTHORIZATION", "").split()
    if len(parts) != 2 or parts[0].lower() != "token":
        return None
    return parts[1]


class RushTokenAuthentication(TokenAuthentication):
    def authenticate(self, request):
        fan = getattr(request._request, FAN_FOUND, None)
        if fan is None:
            return super().authenticate(request)
        activate_for_user(request, fan)
        return fan, token_key(request._request)

    def authenticate_credentials(self, key):
        with prepared_cursor() as cursor:
            cursor.execute(_token_user_sql(), [key])
            row = cursor.fetchone()
        if row is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        user = user_from_row(row, ACTING_FIELDS)
        if not user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return user, key


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
