from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.selectors import is_organizer_of, organizer_organization_ids
from streams.models import Stream, ViewerSample
from streams.presence import WEB, Figures, Floors, PresenceUnavailable, get_backend


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


def stream_get(*, user: User | AnonymousUser, stream_id: int) -> Stream:
    """Raises Stream.DoesNotExist (a 404) when the user may not see it."""
    return stream_list(user=user).get(id=stream_id)


def can_manage_stream(*, user: User | AnonymousUser, stream: Stream) -> bool:
    """Organizers of the stream's organization (and superusers) plan and edit streams."""
    return user.is_authenticated and is_organizer_of(user=user, organization_id=stream.organization_id)


def can_run_stream(*, user: User | AnonymousUser, stream: Stream) -> bool:
    """The stream's hosts and its organization's organizers run it: start, end, host dashboard."""
    if not user.is_authenticated:
        return False
    if can_manage_stream(user=user, stream=stream):
        return True
    return stream.hosts.filter(id=user.id).exists()


@dataclass(frozen=True)
class StreamAccess:
    stream_id: int
    status: str
    floors: Floors
    can_run: bool


def stream_access(*, user: User | AnonymousUser, stream_id: int) -> StreamAccess | None:
    """What a websocket may do with a stream, or None if the user may not see it at all."""
    stream = streams_visible_to(user=user).filter(id=stream_id).first()
    if stream is None:
        return None
    return StreamAccess(
        stream_id=stream.id,
        status=stream.status,
        floors=_floors(stream),
        can_run=can_run_stream(user=user, stream=stream),
    )


def stream_is_public(*, stream_id: int) -> bool:
    return streams_visible_to(user=AnonymousUser()).filter(id=stream_id).exists()


def _floors(stream: Stream) -> Floors:
    return Floors(peak=stream.peak, total_views=stream.total_views, unique_viewers=stream.unique_viewers)


def stream_presence_meta(*, stream_ids: list[int]) -> dict[int, tuple[str, Floors]]:
    """Status and saved figures of the streams a process has sockets for (read by its ticker)."""
    rows = Stream.objects.filter(id__in=stream_ids).values_list("id", "status", "peak", "total_views", "unique_viewers")
    return {sid: (status, Floors(peak, views, uniq)) for sid, status, peak, views, uniq in rows}


def stream_figures(*, stream: Stream) -> Figures:
    """Live figures of a stream, never below what is saved; an ended stream shows its final figures.
    If the shared store is down, the saved figures are returned marked stale."""
    floors = _floors(stream)
    if stream.status == Stream.Status.ENDED:
        return Figures(0, floors.peak, floors.total_views, floors.unique_viewers, {WEB: 0})
    try:
        return get_backend().snapshot(stream_id=stream.id, floors=floors)
    except PresenceUnavailable:
        concurrent = min(stream.last_concurrent, floors.peak)
        return Figures(
            concurrent, floors.peak, floors.total_views, floors.unique_viewers, {WEB: concurrent}, stale=True
        )


def stream_stats(*, stream: Stream, with_platforms: bool) -> dict[str, Any]:
    figures = stream_figures(stream=stream)
    timeline = [
        {"at": at, "concurrent": concurrent}
        for at, concurrent in ViewerSample.objects.filter(stream=stream).order_by("at").values_list("at", "concurrent")
    ]
    stats: dict[str, Any] = {
        "concurrent": figures.concurrent,
        "peak": figures.peak,
        "total_views": figures.total_views,
        "unique_viewers": figures.unique_viewers,
        "timeline": timeline,
        "status": stream.status,
        "stale": figures.stale,
    }
    if with_platforms:
        stats["platforms"] = figures.platforms
    return stats
