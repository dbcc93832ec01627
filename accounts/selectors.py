"""Who may do what. Every app asks these functions instead of reading memberships itself."""

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q

from accounts.models import Membership, Organization, User

FAN, HOST, ORGANIZER = "fan", "host", "organizer"


def _cached_memberships(user: User) -> list[tuple[int, str]]:
    """Memberships are read once per request object: permission checks ask many times."""
    cached = getattr(user, "_aperture_memberships", None)
    if cached is None:
        cached = list(Membership.objects.filter(user=user).values_list("organization_id", "role"))
        user._aperture_memberships = cached  # type: ignore[attr-defined]  # a per-request memo
    return cached


def user_roles(*, user: User) -> list[str]:
    roles = [FAN]
    memberships = _cached_memberships(user)
    if user.is_superuser or any(role == ORGANIZER for _, role in memberships):
        roles.append(ORGANIZER)
    if any(role == HOST for _, role in memberships) or user.hosted_sessions.exists():
        roles.insert(1, HOST)
    return roles


def organizer_organization_ids(*, user: User | AnonymousUser) -> set[int] | None:
    """Ids of the organizations the user organizes; None means every organization (superuser)."""
    if not user.is_authenticated:
        return set()
    if user.is_superuser:
        return None
    return {org_id for org_id, role in _cached_memberships(user) if role == ORGANIZER}


def is_organizer_of(*, user: User | AnonymousUser, organization_id: int) -> bool:
    ids = organizer_organization_ids(user=user)
    return ids is None or organization_id in ids


def is_any_organizer(*, user: User | AnonymousUser) -> bool:
    ids = organizer_organization_ids(user=user)
    return ids is None or bool(ids)


def is_host_member(*, user: User | AnonymousUser) -> bool:
    """A host of some organization (the session hosts services accept are its members)."""
    return user.is_authenticated and any(role == HOST for _, role in _cached_memberships(user))


def organizations_of_organizer(*, user: User):
    ids = organizer_organization_ids(user=user)
    qs = Organization.objects.all()
    return qs if ids is None else qs.filter(id__in=ids)


def hosts_of_organization(*, organization_id: int, also: list[int] | None = None):
    """The people an organizer may put on a session as hosts: the organization's hosts, by name
    (and ``also`` these users, e.g. a session's current hosts)."""
    return (
        User.objects.filter(
            Q(memberships__organization_id=organization_id, memberships__role=HOST) | Q(id__in=also or [])
        )
        .distinct()
        .order_by("first_name", "last_name", "username")
    )
