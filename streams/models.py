import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Organization


def new_stream_secret() -> str:
    return secrets.token_hex(32)


class Stream(models.Model):
    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        LIVE = "live", "Live"
        ENDED = "ended", "Ended"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="streams")
    session = models.OneToOneField(
        "events.Session", on_delete=models.SET_NULL, null=True, blank=True, related_name="stream"
    )
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.SCHEDULED, db_index=True)
    playback_url = models.URLField(max_length=500, blank=True)
    hosts = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="hosted_streams", blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    # Secret for HMAC-signed audience counts from other platforms carrying this stream.
    external_secret = models.CharField(max_length=128, default=new_stream_secret)
    # Figures saved by the presence ticker; an ended stream keeps its final ones.
    peak = models.PositiveIntegerField(default=0)
    total_views = models.PositiveBigIntegerField(default=0)
    unique_viewers = models.PositiveBigIntegerField(default=0)
    last_concurrent = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
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

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="samples")
    at = models.DateTimeField()
    concurrent = models.PositiveIntegerField()
    external = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["at"]
        indexes = [models.Index(fields=["stream", "at"])]


class ExternalCount(models.Model):
    """The latest concurrent count reported by another platform that carries the stream."""

    stream = models.ForeignKey(Stream, on_delete=models.CASCADE, related_name="external_counts")
    platform = models.CharField(max_length=60)
    concurrent = models.PositiveIntegerField()
    at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["stream", "platform"], name="external_count_one_per_platform"),
        ]
