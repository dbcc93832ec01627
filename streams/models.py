import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Organization


def new_stream_secret() -> str:
    return secrets.token_hex(32)


class Stream(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        LIVE = "live", pgettext_lazy("stream status", "Live")
        ENDED = "ended", _("Ended")

    class Audience(models.TextChoices):
        """Who may watch (the page's player, ``playback_url`` in the API, the viewer websocket).
        The stream's hosts and its organization's organizers always may."""

        PUBLIC = "public", _("Everyone")
        REGISTERED = "registered", _("Fans registered for the session (waitlisted and not drawn included)")
        CONFIRMED = "confirmed", _("Fans with a confirmed seat")

    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="streams"
    )
    session = models.OneToOneField(
        "events.Session",
        verbose_name=_("session"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="stream",
    )
    title = models.CharField(_("title"), max_length=200)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.SCHEDULED, db_index=True
    )
    playback_url = models.URLField(_("playback url"), max_length=500, blank=True)
    audience = models.CharField(_("audience"), max_length=20, choices=Audience.choices, default=Audience.PUBLIC)
    replay_url = models.URLField(_("replay url"), max_length=500, blank=True)
    hosts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("hosts"), related_name="hosted_streams", blank=True
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    ended_at = models.DateTimeField(_("ended at"), null=True, blank=True)
    # Secret for HMAC-signed audience counts from other platforms carrying this stream.
    external_secret = models.CharField(_("external secret"), max_length=128, default=new_stream_secret)
    # Figures saved by the presence ticker; an ended stream keeps its final ones.
    peak = models.PositiveIntegerField(_("peak"), default=0)
    peak_at = models.DateTimeField(_("peak at"), null=True, blank=True)
    total_views = models.PositiveBigIntegerField(_("total views"), default=0)
    unique_viewers = models.PositiveBigIntegerField(_("unique viewers"), default=0)
    last_concurrent = models.PositiveIntegerField(_("last concurrent"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = _("stream")
        verbose_name_plural = _("streams")
        constraints = [
            models.CheckConstraint(
                condition=Q(ended_at__isnull=True) | Q(started_at__isnull=True) | Q(ended_at__gte=F("started_at")),
                name="stream_ends_after_start",
            ),
            models.CheckConstraint(condition=Q(peak__gte=F("last_concurrent")), name="stream_peak_at_least_last"),
        ]

    def __str__(self) -> str:
        return self.title


class ViewerSample(models.Model):
    """One point of a stream's audience timeline (sampled every few seconds while live)."""

    stream = models.ForeignKey(Stream, verbose_name=_("stream"), on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField(_("at"))
    concurrent = models.PositiveIntegerField(_("concurrent"))
    external = models.PositiveIntegerField(_("external"), default=0)

    class Meta:
        ordering = ["at"]
        verbose_name = _("viewer sample")
        verbose_name_plural = _("viewer samples")
        indexes = [models.Index(fields=["stream", "at"])]


class ExternalCount(models.Model):
    """The latest figure reported by another platform that carries the stream, labelled by what it
    measures: only ``concurrent`` figures are viewers now and may be added to ours."""

    class Metric(models.TextChoices):
        CONCURRENT = "concurrent", _("Concurrent viewers")
        VIEWS = "views", _("Cumulative views")
        POPULARITY = "popularity", _("Popularity score")

    stream = models.ForeignKey(
        Stream, verbose_name=_("stream"), on_delete=models.CASCADE, related_name="external_counts"
    )
    platform = models.CharField(_("platform"), max_length=60)
    metric = models.CharField(_("metric"), max_length=20, choices=Metric.choices, default=Metric.CONCURRENT)
    # The reported value (named for history: for views and popularity it is not a concurrent count).
    concurrent = models.PositiveBigIntegerField(_("value"))
    highest = models.PositiveBigIntegerField(_("highest value"), default=0)
    at = models.DateTimeField(_("at"))
    received_at = models.DateTimeField(_("received at"), auto_now=True)

    class Meta:
        verbose_name = _("external count")
        verbose_name_plural = _("external counts")
        constraints = [
            models.UniqueConstraint(fields=["stream", "platform", "metric"], name="external_count_one_per_metric"),
        ]


class StreamWatcher(models.Model):
    """A signed-in viewer who had the stream open while it was live (for the share of registered
    fans who watched). Written once per viewer, never on every connect."""

    stream = models.ForeignKey(Stream, verbose_name=_("stream"), on_delete=models.CASCADE, related_name="watchers")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="+"
    )
    first_seen_at = models.DateTimeField(_("first seen at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stream watcher")
        verbose_name_plural = _("stream watchers")
        constraints = [models.UniqueConstraint(fields=["stream", "user"], name="stream_watcher_once")]


class StreamReport(models.Model):
    """The after-show report of a stream, written when it ends (final: never recomputed after)."""

    stream = models.OneToOneField(Stream, verbose_name=_("stream"), on_delete=models.CASCADE, related_name="report")
    figures = models.JSONField(_("figures"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stream report")
        verbose_name_plural = _("stream reports")
