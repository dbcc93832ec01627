import datetime as dt
import hashlib
import secrets

from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core import signing
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from accounts.models import Membership, Organization, User, WebsocketTicket
from project import hooks
from project.errors import ApplicationError


@transaction.atomic
def user_signup(*, username: str, email: str, password: str, language: str = "") -> User:
    """A new fan account. Passwords go through Django's validators. ``language`` is the language the
    person signed up in (their emails and calendar feed speak it until they choose another)."""
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(
            _("That username is taken."), code="username_taken", fields={"username": [_("That username is taken.")]}
        )
    candidate = User(username=username, email=email, language=_valid_language(language))
    try:
        validate_password(password, user=candidate)
    except DjangoValidationError as exc:
        raise ApplicationError(exc.messages[0], fields={"password": exc.messages}) from exc
    candidate.set_password(password)
    try:
        with transaction.atomic():
            candidate.save()
    except IntegrityError as exc:
        raise ApplicationError(
            _("That username is taken."), code="username_taken", fields={"username": [_("That username is taken.")]}
        ) from exc
    return candidate


def _valid_language(language: str) -> str:
    if language and language not in User.Language.values:
        raise ApplicationError(
            _("Unknown language."), code="invalid", fields={"language": [_("Choose zh-hans or en.")]}
        )
    return language


@transaction.atomic
def user_language_set(*, user: User, language: str) -> User:
    """Saves a person's choice of language (the page switch and ``PATCH /api/me/``)."""
    user.language = _valid_language(language)
    user.save(update_fields=["language"])
    return user


def token_for(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def token_revoke(*, user: User) -> None:
    """The user's API token stops working at once (a new sign-in makes a new one), and so do the
    websocket tickets handed out to it."""
    Token.objects.filter(user=user).delete()
    WebsocketTicket.objects.filter(user=user).delete()


def _ticket_digest(ticket: str) -> str:
    return hashlib.sha256(ticket.encode()).hexdigest()


@transaction.atomic
def websocket_ticket_issue(*, user: User) -> str:
    """A new single-use websocket ticket, valid for WS_TICKET_SECONDS; expired ones are swept here."""
    now = timezone.now()
    WebsocketTicket.objects.filter(expires_at__lte=now).delete()
    ticket = secrets.token_urlsafe(32)
    WebsocketTicket.objects.create(
        digest=_ticket_digest(ticket),
        user=user,
        expires_at=now + dt.timedelta(seconds=settings.WS_TICKET_SECONDS),
    )
    return ticket


def websocket_ticket_redeem(*, ticket: str) -> User | None:
    """The active user a valid ticket was issued to, or None; a ticket works once only.

    Two sockets racing with the same ticket: the row is deleted by id and only the delete that
    removed it (one row) wins, on any database."""
    if not 20 <= len(ticket) <= 128:
        return None
    found = (
        WebsocketTicket.objects.select_related("user")
        .filter(digest=_ticket_digest(ticket), expires_at__gt=timezone.now())
        .first()
    )
    if found is None:
        return None
    deleted, _ = WebsocketTicket.objects.filter(pk=found.pk).delete()
    if deleted != 1 or not found.user.is_active:
        return None
    return found.user


@transaction.atomic
def membership_grant(*, user: User, organization: Organization, role: str) -> Membership:
    membership, _ = Membership.objects.get_or_create(user=user, organization=organization, role=role)
    return membership


# --- Email verification --------------------------------------------------------------------------

VERIFY_SALT = "accounts.verify-email"
VERIFY_MAX_AGE = dt.timedelta(days=3)


def email_verification_token(*, user: User) -> str:
    """A signed token for the user's current address: a link sent to an old address stops working
    once the address changes."""
    return signing.dumps({"user": user.pk, "email": user.email.lower()}, salt=VERIFY_SALT)


@transaction.atomic
def email_verification_send(*, user: User) -> str:
    """Send a new verification link (through the notices outbox: ``hooks.email_verification_requested``)."""
    if not user.email:
        raise ApplicationError(_("Add an email address first."), code="no_email")
    token = email_verification_token(user=user)
    hooks.email_verification_requested.send(user=user, token=token)
    return token


@transaction.atomic
def email_verify(*, token: str) -> User:
    """Mark the address of the token's user verified (again: a no-op)."""
    invalid = ApplicationError(
        _("This verification link is invalid or has expired; ask for a new one."), code="invalid_token"
    )
    try:
        payload = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.BadSignature as exc:
        raise invalid from exc
    user = User.objects.select_for_update().filter(pk=payload.get("user")).first()
    if user is None or user.email.lower() != payload.get("email"):
        raise invalid
    if user.email_verified_at is None:
        user.email_verified_at = timezone.now()
        user.save(update_fields=["email_verified_at"])
    return user
