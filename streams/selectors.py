from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from django.contrib.auth.models import AnonymousUser
from django.db.models import Q, QuerySet

from accounts.models import User
from accounts.selectors import is_organizer_of, organizer_organization_ids
from registrations import selectors as registration_selectors
from streams.models import ExternalCount, Stream, StreamReport, StreamWatcher, ViewerSample
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


class WatchRights:
    """Who may watch which stream (its audience), for one user, with one query for the user's seats
    however many streams are asked about (lists). The stream's hosts and its organization's
    organizers always may; ``registered`` lets in any registration that is not cancelled
    (waitlisted and not drawn fans too: the stream is theirs), ``confirmed`` only a confirmed seat."""

    def __init__(self, user: User | AnonymousUser, *, session_ids: list[int] | None = None) -> None:
        self.user = user
        self.session_ids = session_ids  # None: every session of the user's (a list of streams)
        self._statuses: dict[int, str] | None = None

    def _status(self, session_id: int) -> str | None:
        if self._statuses is None:
            self._statuses = registration_selectors.fan_registration_statuses(
                fan=self.user,  # type: ignore[arg-type]  # authenticated: checked by the caller
                session_ids=self.session_ids,
            )
        return self._statuses.get(session_id)

    def _runs(self, stream: Stream) -> bool:
        if is_organizer_of(user=self.user, organization_id=stream.organization_id):
            return True
        if "hosts" in getattr(stream, "_prefetched_objects_cache", {}):
            return any(host.pk == self.user.pk for host in stream.hosts.all())
        return stream.hosts.filter(id=getattr(self.user, "id", 0)).exists()

    def may_watch(self, stream: Stream) -> bool:
        if stream.audience == Stream.Audience.PUBLIC:
            return True
        if not self.user.is_authenticated:
            return False
        if self._runs(stream):
            return True
        if stream.session_id is None:
            return False
        status = self._status(stream.session_id)
        if stream.audience == Stream.Audience.CONFIRMED:
            return status == "confirmed"
        return status is not None


def may_watch(*, user: User | AnonymousUser, stream: Stream) -> bool:
    session_ids = [stream.session_id] if stream.session_id is not None else []
    return WatchRights(user, session_ids=session_ids).may_watch(stream)


@dataclass(frozen=True)
class StreamAccess:
    stream_id: int
    status: str
    floors: Floors
    can_run: bool
    may_watch: bool = True


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
        may_watch=may_watch(user=user, stream=stream),
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
        stats["external"] = external_figures(stream=stream)
        stats.update(seat_figures(stream=stream))
    return stats


def external_figures(*, stream: Stream) -> list[dict[str, Any]]:
    """Every platform's last figure, labelled by metric (only concurrent ones are in ``concurrent``)."""
    return [
        {"platform": platform, "metric": metric, "value": value, "at": at}
        for platform, metric, value, at in ExternalCount.objects.filter(stream=stream)
        .order_by("platform", "metric")
        .values_list("platform", "metric", "concurrent", "at")
    ]


def seat_figures(*, stream: Stream) -> dict[str, int]:
    """The session's registered fans (not cancelled) and check-ins, beside the live audience."""
    if stream.session_id is None:
        return {"registered": 0, "checked_in": 0}
    counts = registration_selectors.registration_counts(session_id=stream.session_id)
    return {
        "registered": sum(counts.values()),
        "checked_in": registration_selectors.checked_in_count(session_id=stream.session_id),
    }


def _watch_seconds(samples: list[tuple[Any, int, int]]) -> float:
    """This site's viewer-seconds: the area under its own audience curve (trapezoids between samples)."""
    total = 0.0
    for (at0, c0, x0), (at1, c1, x1) in zip(samples, samples[1:], strict=False):
        seconds = (at1 - at0).total_seconds()
        total += seconds * ((c0 - x0) + (c1 - x1)) / 2
    return total


def stream_report_figures(*, stream: Stream) -> dict[str, Any]:
    """The after-show figures of a stream, computed from what was saved (samples, totals, watchers,
    other platforms). JSON-ready: stored as the final report when the stream ends."""
    samples = list(
        ViewerSample.objects.filter(stream=stream).order_by("at").values_list("at", "concurrent", "external")
    )
    values = [concurrent for _, concurrent, _ in samples]
    peak_at = stream.peak_at
    if peak_at is None and samples:
        peak_at = max(samples, key=lambda sample: sample[1])[0]
    watch_seconds = _watch_seconds(samples)
    registered: set[int] = set()
    if stream.session_id is not None:
        registered = registration_selectors.registered_fan_ids(session_id=stream.session_id)
    watched = set(StreamWatcher.objects.filter(stream=stream).values_list("user_id", flat=True)) & registered
    platforms: list[dict[str, Any]] = [
        {"platform": WEB, "metric": "concurrent", "value": max([v - x for _, v, x in samples] or [0]), "last": 0}
    ]
    for record in ExternalCount.objects.filter(stream=stream).order_by("platform", "metric"):
        platforms.append(
            {"platform": record.platform, "metric": record.metric, "value": record.highest, "last": record.concurrent}
        )
    return {
        "status": stream.status,
        "started_at": stream.started_at.isoformat() if stream.started_at else None,
        "ended_at": stream.ended_at.isoformat() if stream.ended_at else None,
        "peak": stream.peak,  # settled (streams.presence): never a killed worker's double count
        "peak_at": peak_at.isoformat() if peak_at else None,
        "average_concurrent": round(statistics.fmean(values), 1) if values else 0.0,
        "median_concurrent": float(statistics.median(values)) if values else 0.0,
        "total_views": stream.total_views,
        "unique_viewers": stream.unique_viewers,
        "average_watch_seconds": round(watch_seconds / stream.total_views, 1) if stream.total_views else 0.0,
        "registered_watched": round(len(watched) / len(registered), 4) if registered else 0.0,
        "registered_fans": len(registered),
        "registered_fans_watched": len(watched),
        "curve": [{"at": at.isoformat(), "concurrent": concurrent} for at, concurrent, _ in samples],
        "platforms": platforms,
    }


def stream_report(*, stream: Stream) -> dict[str, Any]:
    """The stored final report of an ended stream (never recomputed), else the figures so far."""
    stored = StreamReport.objects.filter(stream=stream).first()
    if stored is not None:
        return {**stored.figures, "final": True}
    figures = stream_report_figures(stream=stream)
    if stream.status != Stream.Status.ENDED:
        live = stream_figures(stream=stream)
        figures.update(peak=max(figures["peak"], live.peak), total_views=live.total_views,
                       unique_viewers=live.unique_viewers)  # fmt: skip
    return {**figures, "final": False}


REPORT_CSV_COLUMNS = ("section", "at", "platform", "metric", "value")


def stream_report_csv_rows(*, report: dict[str, Any]) -> list[list[Any]]:
    """The report as CSV rows: the summary figures, then the per-platform figures, then the curve."""
    rows: list[list[Any]] = [list(REPORT_CSV_COLUMNS)]
    for name in (
        "final", "peak", "peak_at", "average_concurrent", "median_concurrent", "total_views", "unique_viewers",
        "average_watch_seconds", "registered_watched", "registered_fans", "registered_fans_watched",
    ):  # fmt: skip
        rows.append(["summary", "", "", name, report[name] if report[name] is not None else ""])
    for platform in report["platforms"]:
        rows.append(["platform", "", platform["platform"], platform["metric"], platform["value"]])
    for point in report["curve"]:
        rows.append(["curve", point["at"], "", "concurrent", point["concurrent"]])
    return rows
