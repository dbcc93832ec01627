from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from rest_framework.authtoken.models import Token

from accounts.models import Membership, Organization, User
from project.errors import ApplicationError


@transaction.atomic
def user_signup(*, username: str, email: str, password: str) -> User:
    """A new fan account. Passwords go through Django's validators."""
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(
            "That username is taken.", code="username_taken", fields={"username": ["That username is taken."]}
        )
    candidate = User(username=username, email=email)
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
            "That username is taken.", code="username_taken", fields={"username": ["That username is taken."]}
        ) from exc
    return candidate


def token_for(*, user: User) -> str:
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


@transaction.atomic
def membership_grant(*, user: User, organization: Organization, role: str) -> Membership:
    membership, _ = Membership.objects.get_or_create(user=user, organization=organization, role=role)
    return membership
