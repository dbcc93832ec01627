"""Planning: where and when things happen. Seats are counted here but only changed by
``registrations.services`` (see Session.confirmed_count)."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Organization


class City(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="cities")
    name = models.CharField(max_length=120)
    local_name = models.CharField(max_length=120, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    timezone = models.CharField(max_length=64)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "cities"
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="city_unique_name"),
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="city_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180), name="city_longitude_range"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.local_name}".strip()


class Venue(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="venues")
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="venues")
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    latitude = models.FloatField()
    longitude = models.FloatField()
    timezone = models.CharField(max_length=64)
    max_capacity = models.PositiveIntegerField()
    outdoor = models.BooleanField(default=False)

    class Meta:
        ordering = ["city__name", "name"]
        constraints = [
            models.UniqueConstraint(fields=["city", "name"], name="venue_unique_name_in_city"),
            models.CheckConstraint(condition=Q(max_capacity__gte=0), name="venue_max_capacity_non_negative"),
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="venue_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180), name="venue_longitude_range"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city.name})"


class Series(models.Model):
    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="series")
    title = models.CharField(max_length=200)
    slug = models.SlugField(max_length=120, unique=True)
    description = models.TextField(blank=True)
    partners = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name_plural = "series"

    def __str__(self) -> str:
        return self.title


class Session(models.Model):
    class Kind(models.TextChoices):
        TALK = "talk", "Talk"
        NIGHT_SHOOT = "night_shoot", "Night shoot"
        LIVESTREAM = "livestream", "Livestream"

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"
        CANCELLED = "cancelled", "Cancelled"

    series = models.ForeignKey(Series, on_delete=models.CASCADE, related_name="sessions")
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TALK)
    title = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    city = models.ForeignKey(City, on_delete=models.PROTECT, related_name="sessions")
    venue = models.ForeignKey(Venue, on_delete=models.PROTECT, related_name="sessions", null=True, blank=True)
    hosts = models.ManyToManyField(settings.AUTH_USER_MODEL, related_name="hosted_sessions", blank=True)
    starts_at = models.DateTimeField(db_index=True)
    ends_at = models.DateTimeField()
    timezone = models.CharField(max_length=64)
    capacity = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    registration_opens_at = models.DateTimeField(null=True, blank=True)
    registration_closes_at = models.DateTimeField(null=True, blank=True)
    priority_opens_at = models.DateTimeField(null=True, blank=True)
    waitlist_enabled = models.BooleanField(default=True)
    cancel_reason = models.TextField(blank=True)
    # Seat counters, changed only by registrations.services while holding this row's lock; kept
    # here so that capacity is enforced by one conditional UPDATE and a CHECK constraint.
    confirmed_count = models.PositiveIntegerField(default=0)
    waitlist_count = models.PositiveIntegerField(default=0)
    # RFC 5545 SEQUENCE: bumped on every change of time, place or status that a calendar must follow.
    sequence = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [models.Index(fields=["series", "starts_at"]), models.Index(fields=["venue", "starts_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="session_ends_after_starts"),
            models.CheckConstraint(condition=Q(capacity__gte=0), name="session_capacity_non_negative"),
            models.CheckConstraint(
                condition=Q(confirmed_count__lte=F("capacity")), name="session_confirmed_within_capacity"
            ),
            models.CheckConstraint(
                condition=Q(registration_opens_at__isnull=True)
                | Q(registration_closes_at__isnull=True)
                | Q(registration_closes_at__gt=F("registration_opens_at")),
                name="session_registration_window_ordered",
            ),
            models.CheckConstraint(
                condition=Q(priority_opens_at__isnull=True)
                | Q(registration_opens_at__isnull=True)
                | Q(priority_opens_at__lte=F("registration_opens_at")),
                name="session_priority_before_general",
            ),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def seats_left(self) -> int:
        return max(self.capacity - self.confirmed_count, 0)
