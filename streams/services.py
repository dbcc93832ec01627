"""Writes of the streams app: planning a stream, going live and ending, saving audience figures,
and signed audience counts from other platforms."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest, Least
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext as _
from rest_framework import serializers

from accounts.models import Membership, Organization, User
from accounts.selectors import is_organizer_of
from events.models import Session
from project import hooks
from project.api import AwareDateTimeField
from project.errors import ApplicationError
from streams import selectors
from streams.models import ExternalCount, Stream, StreamReport, StreamWatcher, ViewerSample, new_stream_secret
from streams.presence import Figures, Floors, PresenceUnavailable, get_backend
from streams.selectors import can_run_stream

logger = logging.getLogger(__name__)

# What an organizer edits; status, times, figures and the secret have services of their own.
STREAM_FIELDS = ("title", "session", "playback_url", "hosts", "audience", "replay_url")


def _ensure_organizer(by: User | None, organization_id: int) -> None:
    """``by`` is the acting user (None: the system itself, e.g. a management command)."""
    if by is not None and not is_organizer_of(user=by, organization_id=organization_id):
        raise ApplicationError(
            gettext("Only organizers of this organization may plan its streams."),
            code="permission_denied",
            status_code=403,
        )


def _check_hosts(*, organization: Organization, hosts: list[User] | None) -> None:
    """A stream's hosts run it and see its secretless dashboard: members of its organization only."""
    if not hosts:
        return
    ids = {host.pk for host in hosts}
    members = set(
        Membership.objects.filter(organization=organization, user_id__in=ids).values_list("user_id", flat=True)
    )
    strangers = sorted(ids - members)
    if strangers:
        message = gettext("Hosts must be members of the stream's organization.")
        raise ApplicationError(message, fields={"hosts": [message]}, extra={"not_members": strangers})


def _check_session(*, organization: Organization, session: Session | None, stream: Stream | None = None) -> None:
    if session is None:
        return
    if session.series.organization_id != organization.id:
        raise ApplicationError(
            gettext("The session belongs to another organization."),
            fields={"session": [gettext("Choose a session of the stream's organization.")]},
        )
    taken = Stream.objects.filter(session=session)
    if stream is not None:
        taken = taken.exclude(id=stream.id)
    if taken.exists():
        raise ApplicationError(
            _("This session already has a stream."),
            code="conflict",
            fields={"session": [_("This session already has a stream.")]},
        )


@transaction.atomic
def stream_create(
    *,
    organization: Organization,
    title: str,
    session: Session | None = None,
    playback_url: str = "",
    hosts: list[User] | None = None,
    audience: str = Stream.Audience.PUBLIC,
    replay_url: str = "",
    by: User | None,
) -> Stream:
    """Plan a stream of ``organization``, which ``by`` must organize; its session and hosts must be
    the organization's."""
    _ensure_organizer(by, organization.id)
    _check_session(organization=organization, session=session)
    _check_hosts(organization=organization, hosts=hosts)
    try:
        with transaction.atomic():
            stream = Stream.objects.create(
                organization=organization,
                session=session,
                title=title,
                playback_url=playback_url,
                audience=audience,
                replay_url=replay_url,
            )
    except IntegrityError as exc:  # two organizers attaching a stream to the same session at once
        raise ApplicationError(
            _("This session already has a stream."), code="conflict", fields={"session": [_("Already has a stream.")]}
        ) from exc
    if hosts:
        stream.hosts.set(hosts)
    return stream


_EDITABLE = ("title", "session", "playback_url", "audience", "replay_url")


@transaction.atomic
def stream_update(*, stream: Stream, data: dict[str, Any], by: User | None) -> Stream:
    """Edit title, session, playback URL, audience, replay URL and hosts; status only moves through start/end, and the
    organization never changes (whatever else ``data`` holds)."""
    stream = Stream.objects.select_for_update().select_related("organization").get(id=stream.id)
    _ensure_organizer(by, stream.organization_id)
    if "session" in data:
        _check_session(organization=stream.organization, session=data["session"], stream=stream)
    if "hosts" in data:
        _check_hosts(organization=stream.organization, hosts=list(data["hosts"]))
    changed = [name for name in _EDITABLE if name in data and getattr(stream, name) != data[name]]
    for name in changed:
        setattr(stream, name, data[name])
    if changed:
        try:
            with transaction.atomic():
                stream.save(update_fields=changed)
        except IntegrityError as exc:
            raise ApplicationError(
                _("This session already has a stream."),
                code="conflict",
                fields={"session": [_("Already has a stream.")]},
            ) from exc
    if "hosts" in data:
        stream.hosts.set(data["hosts"])
    return stream


def _locked(stream: Stream) -> Stream:
    return Stream.objects.select_for_update().get(id=stream.id)


def _ensure_runner(by: User | None, stream: Stream) -> None:
    if by is not None and not can_run_stream(user=by, stream=stream):
        raise ApplicationError(
            gettext("Only the stream's hosts and organizers run it."), code="permission_denied", status_code=403
        )


@transaction.atomic
def stream_start(*, stream: Stream, by: User | None = None) -> Stream:
    locked = _locked(stream)
    _ensure_runner(by, locked)
    if locked.status == Stream.Status.LIVE:
        raise ApplicationError(_("The stream is already live."), code="already_live", status_code=409)
    if locked.status == Stream.Status.ENDED:
        raise ApplicationError(_("The stream has ended; plan a new one."), code="ended", status_code=409)
    locked.status = Stream.Status.LIVE
    locked.started_at = timezone.now()
    locked.save(update_fields=["status", "started_at"])
    # Fans of the session hear it is live (waitlisted ones: the stream is theirs), and so do the
    # stream's followers (notices), in this transaction.
    hooks.stream_live.send(stream=locked)
    return locked


@transaction.atomic
def stream_end(*, stream: Stream, by: User | None = None) -> Stream:
    """End a scheduled or live stream and freeze its figures: the live totals are saved as final,
    with a last timeline point, and the tickers stop saving (they only update non-ended streams)."""
    locked = _locked(stream)
    _ensure_runner(by, locked)
    if locked.status == Stream.Status.ENDED:
        raise ApplicationError(_("The stream has already ended."), code="already_ended", status_code=409)
    now = timezone.now()
    try:
        figures: Figures | None = get_backend().snapshot(
            stream_id=locked.id,
            floors=Floors(locked.peak, locked.total_views, locked.unique_viewers),
        )
    except PresenceUnavailable:
        figures = None  # keep the figures saved by the last sample
    if figures is not None:
        if figures.peak > locked.peak:
            locked.peak_at = now
        locked.peak = max(locked.peak, figures.peak)
        locked.total_views = max(locked.total_views, figures.total_views)
        locked.unique_viewers = max(locked.unique_viewers, figures.unique_viewers)
        if locked.status == Stream.Status.LIVE:
            ViewerSample.objects.create(stream=locked, at=now, concurrent=figures.concurrent, external=figures.external)
    locked.last_concurrent = 0
    locked.status = Stream.Status.ENDED
    locked.ended_at = now
    locked.save(
        update_fields=["peak", "peak_at", "total_views", "unique_viewers", "last_concurrent", "status", "ended_at"]
    )
    # The after-show report, computed once from what was saved and kept: final, and a restart or a late
    # sample cannot change it (samples of an ended stream are refused above and in stream_record_figures).
    StreamReport.objects.create(stream=locked, figures=selectors.stream_report_figures(stream=locked))
    _announce_status_on_commit(locked.id)
    return locked


def _announce_status_on_commit(stream_id: int) -> None:
    """Pages switch when the status changes: every ASGI process re-reads it now (Redis pub/sub),
    this one too (in memory), instead of at its next status read."""

    def announce() -> None:
        from streams.hub import get_hub  # the hub imports this module

        try:
            get_backend().announce_status(stream_id=stream_id)
            get_hub().status_changed(stream_id)
        except Exception:  # the change is committed; the processes' own status reads catch up
            logger.exception("stream %s: could not announce its new status", stream_id)

    transaction.on_commit(announce)


@transaction.atomic
def stream_rotate_secret(*, stream: Stream, by: User | None = None) -> Stream:
    _ensure_organizer(by, stream.organization_id)
    stream.external_secret = new_stream_secret()
    stream.save(update_fields=["external_secret"])
    return stream


@transaction.atomic
def stream_record_figures(*, stream_id: int, figures: Figures, at: dt.datetime) -> None:
    """Save one process's view of the figures (called by the ticker that won this sample).

    Figures only ever go up (GREATEST), so processes that race or lag cannot lower them; an ended
    stream is left alone, so it keeps the final figures saved by ``stream_end``.
    """
    peak = figures.peak  # settled: never a killed process's overlap (streams.presence)
    updated = (
        Stream.objects.filter(id=stream_id)
        .exclude(status=Stream.Status.ENDED)
        .update(
            peak_at=Case(When(peak__lt=peak, then=Value(at)), default=F("peak_at")),
            peak=Greatest(F("peak"), peak),
            total_views=Greatest(F("total_views"), figures.total_views),
            unique_viewers=Greatest(F("unique_viewers"), figures.unique_viewers),
            # Never above the peak (a database constraint): with several processes the settled peak
            # may trail a rising concurrent count by a report.
            last_concurrent=Least(Value(figures.concurrent), Greatest(F("peak"), Value(peak))),
        )
    )
    if updated and Stream.objects.filter(id=stream_id, status=Stream.Status.LIVE).exists():
        ViewerSample.objects.create(
            stream_id=stream_id, at=at, concurrent=figures.concurrent, external=figures.external
        )


def stream_watchers_add(*, stream_id: int, user_ids: set[int]) -> None:
    """Signed-in viewers who had the stream open while it was live (called by the hub once per new
    viewer, not per connect); for the report's share of registered fans who watched."""
    if not user_ids or not Stream.objects.filter(id=stream_id, status=Stream.Status.LIVE).exists():
        return
    StreamWatcher.objects.bulk_create(
        [StreamWatcher(stream_id=stream_id, user_id=user_id) for user_id in sorted(user_ids)],
        ignore_conflicts=True,
    )


# --- External platforms -----------------------------------------------------------------------


class ExternalCountInput(serializers.Serializer):
    platform = serializers.RegexField(
        r"^[a-z0-9][a-z0-9_.-]{0,59}$",
        help_text="Lower-case platform name, e.g. douyin, bilibili, weibo ('web' is ours).",
    )
    metric = serializers.ChoiceField(
        choices=ExternalCount.Metric.choices,
        default=ExternalCount.Metric.CONCURRENT,
        help_text="What the figure is: concurrent viewers (added to ours), cumulative views or the "
        "platform's popularity score (shown apart, never added).",
    )
    concurrent = serializers.IntegerField(
        min_value=0, max_value=1_000_000_000_000, required=False, help_text="The figure (any metric)."
    )
    value = serializers.IntegerField(
        min_value=0, max_value=1_000_000_000_000, required=False, help_text="The figure, for views and popularity."
    )
    at = AwareDateTimeField(help_text="When the platform measured it (ISO 8601 with offset).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        figure = attrs.get("value", attrs.get("concurrent"))
        if figure is None:
            raise serializers.ValidationError({"concurrent": [_("Give the figure as concurrent or value.")]})
        attrs["figure"] = figure
        return attrs

    def validate_platform(self, value: str) -> str:
        if value == "web":
            raise serializers.ValidationError(_("'web' is this site's own audience."))
        return value


def external_signature(*, secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _signature_ok(*, secret: str, body: bytes, signature: str | None) -> bool:
    if not signature:
        return False
    given = signature.strip()
    if given.lower().startswith("sha256="):
        given = given[7:]
    return hmac.compare_digest(external_signature(secret=secret, body=body), given.lower())


def external_count_record(*, stream_id: int, body: bytes, signature: str | None) -> ExternalCount:
    """Accept another platform's concurrent count for a stream.

    The body is authenticated before it is parsed: HMAC-SHA256 of the raw body with the stream's
    ``external_secret``, hex, in ``X-Signature`` (``sha256=`` prefix allowed); missing or wrong -> 401.
    ``at`` must be within EXTERNAL_COUNT_MAX_AGE_SECONDS of now, and strictly later than the last
    accepted ``at`` of that platform for that stream: a replayed (or older) body is refused with 409,
    so the stored ``ExternalCount.at`` is the per-platform replay guard.
    """
    stream = Stream.objects.filter(id=stream_id).first()
    if stream is None:
        raise ApplicationError(_("Not found."), code="not_found", status_code=404)
    if not _signature_ok(secret=stream.external_secret, body=body, signature=signature):
        raise ApplicationError(
            _("Missing or wrong X-Signature (hex HMAC-SHA256 of the raw body with the stream's secret)."),
            code="invalid_signature",
            status_code=401,
        )
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise ApplicationError(gettext("The body is not JSON."), code="parse_error") from exc
    serializer = ExternalCountInput(data=payload if isinstance(payload, dict) else {})
    serializer.is_valid(raise_exception=True)
    data = serializer.validated_data
    now = timezone.now()
    max_age = dt.timedelta(seconds=settings.EXTERNAL_COUNT_MAX_AGE_SECONDS)
    if not now - max_age <= data["at"] <= now + max_age:
        raise ApplicationError(
            _("The timestamp is too old or too far in the future."),
            code="stale_timestamp",
            fields={
                "at": [
                    _("Must be within %(external_count_max_age_seconds)s seconds of now.")
                    % {"external_count_max_age_seconds": settings.EXTERNAL_COUNT_MAX_AGE_SECONDS}
                ]
            },
        )
    record = _external_count_store(
        stream=stream, platform=data["platform"], metric=data["metric"], figure=data["figure"], at=data["at"]
    )
    return record


@transaction.atomic
def _external_count_store(*, stream: Stream, platform: str, metric: str, figure: int, at: dt.datetime) -> ExternalCount:
    """Only concurrent figures reach the live count; views and popularity are kept for the dashboard
    and the report, labelled, and never added to ours."""
    locked = _locked(stream)
    if locked.status == Stream.Status.ENDED:
        raise ApplicationError(_("The stream has ended."), code="ended", status_code=409)
    concurrent = figure
    record = ExternalCount.objects.select_for_update().filter(stream=locked, platform=platform, metric=metric).first()
    if record is not None and at <= record.at:
        raise ApplicationError(
            _("Replayed or out-of-order report: 'at' must be later than the last accepted one."),
            code="replayed",
            status_code=409,
        )
    if record is None:
        record = ExternalCount.objects.create(
            stream=locked, platform=platform, metric=metric, concurrent=figure, highest=figure, at=at
        )
    else:
        record.concurrent = figure
        record.highest = max(record.highest, figure)
        record.at = at
        record.save(update_fields=["concurrent", "highest", "at", "received_at"])
    stream_id = locked.id
    if metric != ExternalCount.Metric.CONCURRENT:
        return record

    def publish() -> None:
        try:
            get_backend().report_external(stream_id=stream_id, platform=platform, concurrent=concurrent)
        except PresenceUnavailable:
            pass  # the platform reports again in a few seconds

    transaction.on_commit(publish)
    return record
