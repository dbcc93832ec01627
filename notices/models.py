"""The outbox: one ``Notice`` per recipient, written in the same transaction as the change that
causes it, delivered by email afterwards by a background job (``notices.delivery``), and listed on
the site (``GET /api/me/notifications/``).

Delivery states (``delivery``):
``queued`` -> ``sending`` (claimed by a worker; ``sending_since``) -> ``sent``;
``sending`` -> ``failed`` (the error kept in ``last_error``; retried at ``next_attempt_at``) ->
``sending`` ...; ``skipped``: no email to send (no address, or the fan turned that kind off).
A worker that dies between sending and recording leaves ``sending``: after ``JOBS_STALE_SECONDS``
another worker sends it again and counts it in ``resends`` (at most one extra copy per crash).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class OrganizerMessage(models.Model):
    """A message an organizer wrote to the fans of a session, of a city's sessions or of a series;
    one ``Notice`` per recipient carries it (and its delivery state)."""

    class Audience(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed fans")
        WAITLISTED = "waitlisted", _("Waitlisted fans")
        ALL = "all", _("Confirmed and waitlisted fans")

    organization = models.ForeignKey(
        "accounts.Organization", verbose_name=_("organization"), on_delete=models.CASCADE, related_name="messages"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("author"), on_delete=models.SET_NULL, null=True, related_name="+"
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    audience = models.CharField(_("audience"), max_length=20, choices=Audience.choices)
    session = models.ForeignKey(
        "events.Session", verbose_name=_("session"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    series = models.ForeignKey(
        "events.Series", verbose_name=_("series"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    city = models.ForeignKey(
        "events.City", verbose_name=_("city"), on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    recipients = models.PositiveIntegerField(_("recipients"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("organizer message")
        verbose_name_plural = _("organizer messages")

    def __str__(self) -> str:
        return self.subject


class Notice(models.Model):
    class Kind(models.TextChoices):
        MOVED = "moved", _("Session moved")
        CANCELLED = "cancelled", _("Session cancelled")
        PROMOTED = "promoted", _("Seat confirmed from the waitlist")
        OFFERED = "offered", _("Seat offered")
        DRAWN = "drawn", _("Draw result")
        REMINDER = "reminder", _("Reminder")
        STARTING = "starting", _("Starting now")
        MESSAGE = "message", _("Message from the organizer")
        ACCOUNT = "account", _("Account")

    class Delivery(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed (will be retried)")
        SKIPPED = "skipped", _("Not emailed")

    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("recipient"), on_delete=models.CASCADE, related_name="notices"
    )
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    subject = models.CharField(_("subject"), max_length=300)
    body = models.TextField(_("body"))
    session = models.ForeignKey(
        "events.Session",
        verbose_name=_("session"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="notices",
    )
    message = models.ForeignKey(
        OrganizerMessage,
        verbose_name=_("organizer message"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="notices",
    )
    email = models.EmailField(_("email address"), blank=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    # Makes a notice that must exist once (a reminder for one time of one session) idempotent.
    dedupe_key = models.CharField(_("dedupe key"), max_length=200, null=True, blank=True, unique=True)
    delivery = models.CharField(_("delivery"), max_length=10, choices=Delivery.choices, default=Delivery.QUEUED)
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    resends = models.PositiveIntegerField(_("resends after a crash"), default=0)
    last_error = models.TextField(_("last error"), blank=True)
    sending_since = models.DateTimeField(_("sending since"), null=True, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt at"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    read_at = models.DateTimeField(_("read at"), null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("notice")
        verbose_name_plural = _("notices")
        indexes = [
            models.Index(fields=["recipient", "-created_at"], name="notice_recipient_recent"),
            models.Index(
                fields=["delivery"],
                name="notice_undelivered",
                condition=Q(delivery__in=["queued", "sending", "failed"]),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} -> {self.recipient_id}: {self.subject}"


class StreamFollow(models.Model):
    """A fan who wants "starting now" for a livestream without registering for its session."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("fan"), on_delete=models.CASCADE, related_name="stream_follows"
    )
    stream = models.ForeignKey(
        "streams.Stream", verbose_name=_("stream"), on_delete=models.CASCADE, related_name="follows"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("stream follower")
        verbose_name_plural = _("stream followers")
        constraints = [models.UniqueConstraint(fields=["stream", "user"], name="stream_follow_once")]

    def __str__(self) -> str:
        return f"{self.user_id} follows stream {self.stream_id}"


class Preferences(models.Model):
    """A fan's email choices. Notices about their own seat (moved, cancelled, promoted, offered,
    drawn) and account mail are always emailed; these turn off the others. Every notice is also
    listed on the site, whatever the choice. No row: both on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("fan"), on_delete=models.CASCADE, related_name="notice_preferences"
    )
    email_reminders = models.BooleanField(_("email reminders"), default=True)
    email_messages = models.BooleanField(_("email organizer messages"), default=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("email preferences")
        verbose_name_plural = _("email preferences")

    def __str__(self) -> str:
        return f"preferences of {self.user_id}"


# Which preference turns a kind off ("starting now" is a reminder); kinds not here are always sent.
OPTIONAL_KINDS: dict[str, str] = {
    Notice.Kind.REMINDER: "email_reminders",
    Notice.Kind.STARTING: "email_reminders",
    Notice.Kind.MESSAGE: "email_messages",
}
