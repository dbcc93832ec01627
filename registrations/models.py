import secrets

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from accounts.models import Organization


def new_checkin_code() -> str:
    """128 bits from the OS's CSPRNG: a check-in code must not be guessable from another."""
    return secrets.token_urlsafe(16)


class PriorityCode(models.Model):
    """An early-access code for core fans, valid for one session or a whole series."""

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="priority_codes")
    code = models.CharField(max_length=64, unique=True)
    series = models.ForeignKey(
        "events.Series", on_delete=models.CASCADE, null=True, blank=True, related_name="priority_codes"
    )
    session = models.ForeignKey(
        "events.Session", on_delete=models.CASCADE, null=True, blank=True, related_name="priority_codes"
    )
    max_uses = models.PositiveIntegerField(default=1)
    uses = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(null=True, blank=True)
    batch = models.CharField(max_length=100, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(uses__lte=F("max_uses")), name="priority_code_uses_within_max"),
            models.CheckConstraint(
                condition=(Q(series__isnull=False) & Q(session__isnull=True))
                | (Q(series__isnull=True) & Q(session__isnull=False)),
                name="priority_code_series_xor_session",
            ),
        ]

    def __str__(self) -> str:
        return self.code


class Registration(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        WAITLISTED = "waitlisted", "Waitlisted"
        CANCELLED = "cancelled", "Cancelled"

    # No single-column index on session: the (session, fan) and (session, status, position) indexes
    # lead with it. Every index here is written on each registration of a rush.
    session = models.ForeignKey(
        "events.Session", on_delete=models.CASCADE, related_name="registrations", db_index=False
    )
    fan = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="registrations")
    status = models.CharField(max_length=20, choices=Status.choices)
    waitlist_position = models.PositiveIntegerField(null=True, blank=True)
    checkin_code = models.CharField(max_length=64, default=new_checkin_code)  # unique: see Meta
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", db_index=False
    )
    priority_code = models.ForeignKey(
        PriorityCode,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="registrations",
        db_index=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [
            models.Index(fields=["session", "status", "waitlist_position"]),
            # Partial: a registration is inserted without either, so a rush never writes these.
            models.Index(
                fields=["checked_in_by"],
                condition=Q(checked_in_by__isnull=False),
                name="registration_checked_in_by",
            ),
            models.Index(
                fields=["priority_code"],
                condition=Q(priority_code__isnull=False),
                name="registration_priority_code",
            ),
        ]
        constraints = [
            # A constraint rather than unique=True, which on PostgreSQL adds a second, LIKE index.
            models.UniqueConstraint(fields=["checkin_code"], name="registration_unique_checkin_code"),
            models.UniqueConstraint(fields=["session", "fan"], name="registration_one_per_fan_and_session"),
            # Not partial: NULL positions never collide, and a deferred check lets one UPDATE
            # shift a whole waitlist up by one. (SQLite has no deferrable constraints; the
            # registration services keep positions gapless there too.)
            models.UniqueConstraint(
                fields=["session", "waitlist_position"],
                name="registration_unique_waitlist_position",
                deferrable=models.Deferrable.DEFERRED,
            ),
            models.CheckConstraint(
                condition=(Q(status="waitlisted") & Q(waitlist_position__gte=1))
                | (~Q(status="waitlisted") & Q(waitlist_position__isnull=True)),
                name="registration_waitlist_position_iff_waitlisted",
            ),
            models.CheckConstraint(
                condition=Q(checked_in_at__isnull=True) | Q(status="confirmed"),
                name="registration_checkin_only_confirmed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fan} → {self.session} ({self.status})"
