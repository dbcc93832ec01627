"""Signing in and, on every request of a signed-in person, finding who they are.

Django's ``ModelBackend.get_user`` builds an ORM query for the user on every request, and the
navigation then asks for their memberships (organizer? host?) in a second one. During a rush every
page a signed-in fan reloads pays both, so this backend reads the user and their memberships in
one small statement, prepared on PostgreSQL (``project.db.prepared_cursor``), and leaves the
memberships where ``accounts.selectors`` looks for them first. Higher rooms may add a figure of
their own to that statement (:func:`read_with_user`, e.g. the notices' unread count for the bell),
so a page needs no round trip of its own for it. Signing in (the password check) is
``ModelBackend``'s own.
"""

from __future__ import annotations

from functools import cache

from django.contrib.auth.backends import ModelBackend
from django.db import connection

from accounts.models import Membership, User
from project.db import prepared_cursor

# name -> a scalar SQL expression over the user's row ``u``, registered by higher rooms at start-up.
_EXTRAS: dict[str, str] = {}


def read_with_user(name: str, expression: str) -> None:
    """Read ``expression`` (scalar SQL over the user's row ``u``, no parameters) with the signed-in
    user on every request; :func:`read_with_user_value` then gives it. Call from an
    ``AppConfig.ready()``: the statement is built once, at the first request."""
    _EXTRAS[name] = expression


def read_with_user_value(user: User, name: str) -> object | None:
    """What ``name``'s expression gave when ``user`` was read for this request (None if not so read)."""
    return getattr(user, "_aperture_extras", {}).get(name)


# What a request that only acts for the person needs of them (the registration rush): who they are,
# whether they may act, their language, what decides what they may see, and what a draw entry checks
# (a verified address, the account's age). Django loads the rest (password hash, names, last login)
# if anything asks for it, one query per field: add a field here before a hot path reads it.
ACTING_FIELDS = (
    "id", "username", "email", "is_active", "is_staff", "is_superuser", "language", "date_joined", "email_verified_at",
)  # fmt: skip


@cache
def _fields(attnames: tuple[str, ...] | None) -> list:
    """The user's fields of ``attnames`` (all when None), in the model's order (``from_db`` needs it)."""
    if attnames is None:
        return list(User._meta.concrete_fields)
    return [field for field in User._meta.concrete_fields if field.attname in attnames]


@cache
def _attnames(attnames: tuple[str, ...] | None) -> list[str]:
    """What ``from_db`` is told the row holds (computed once, not on every request)."""
    return [field.attname for field in _fields(attnames)]


def user_columns(attnames: tuple[str, ...] | None = None) -> str:
    """The user's columns, as ``u.<column>, ...``, in the order :func:`user_from_row` reads them."""
    quote = connection.ops.quote_name
    return ", ".join(f"u.{quote(field.column)}" for field in _fields(attnames))


@cache
def _user_sql() -> tuple[str, list[str]]:
    quote = connection.ops.quote_name
    extras = list(_EXTRAS)
    columns = ", ".join([user_columns()] + [f"{_EXTRAS[name]} AS {quote(name)}" for name in extras])
    sql = (
        f"SELECT {columns}, m.organization_id, m.role FROM {quote(User._meta.db_table)} u "  # noqa: S608 - names from the model
        f"LEFT JOIN {quote(Membership._meta.db_table)} m ON m.user_id = u.id WHERE u.id = %s"
    )
    return sql, extras


@cache
def _converters(attnames: tuple[str, ...] | None) -> list[list]:
    """Per column, what Django's SQL compiler applies to a raw value (SQLite returns text for a
    datetime; PostgreSQL needs none for a user's columns)."""
    return [
        connection.ops.get_db_converters(field.cached_col) + field.get_db_converters(connection)
        for field in _fields(attnames)
    ]


def user_from_row(values: tuple | list, attnames: tuple[str, ...] | None = None) -> User:
    """A user from raw values in :func:`user_columns`' order (of the same ``attnames``), converted as
    Django's compiler does; the fields not read are deferred."""
    converted = list(values)
    fields = _fields(attnames)
    for index, converters in enumerate(_converters(attnames)):
        for convert in converters:
            converted[index] = convert(converted[index], fields[index].cached_col, connection)
    return User.from_db(connection.alias, _attnames(attnames), converted)


def user_with_memberships(user_id: int) -> User | None:
    """The user with this id, their memberships read with them (one statement), or None."""
    sql, extras = _user_sql()
    with prepared_cursor() as cursor:
        cursor.execute(sql, [user_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    width = len(User._meta.concrete_fields)
    user = user_from_row(rows[0][:width])
    user._aperture_extras = dict(zip(extras, rows[0][width : width + len(extras)], strict=True))  # type: ignore[attr-defined]
    user._aperture_memberships = [  # type: ignore[attr-defined]  # accounts.selectors' per-request memo
        (organization_id, role) for *_user, organization_id, role in rows if organization_id is not None
    ]
    return user


class AccountBackend(ModelBackend):
    """``ModelBackend`` whose per-request lookup is :func:`user_with_memberships`."""

    def get_user(self, user_id):
        try:
            user = user_with_memberships(int(user_id))
        except (TypeError, ValueError):
            return None
        return user if user is not None and self.user_can_authenticate(user) else None
