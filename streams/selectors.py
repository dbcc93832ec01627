from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.selectors import organizer_organization_ids
from streams.models import Stream


def streams_visible_to(*, user: User | AnonymousUser) -> QuerySet[Stream]:
    """Streams of non-draft sessions (or of no session) for everyone; all of an organization's
    streams for its organizers; their own streams for hosts."""
    qs = Stream.objects.all()
    org_ids = organizer_organization_ids(user=user)
    if org_ids is None:
        return qs
    public = Q(session__isnull=True) | ~Q(session__status="draft")
    if not user.is_authenticated:
        return qs.filter(public)
    return qs.filter(public | Q(organization_id__in=org_ids) | Q(hosts=user)).distinct()


def stream_list(*, user: User | AnonymousUser) -> QuerySet[Stream]:
    return streams_visible_to(user=user).prefetch_related("hosts").order_by("-created_at", "id")
