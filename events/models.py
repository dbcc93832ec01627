"""Planning: where and when things happen. Seats are counted here but only changed by
``registrations.services`` (see Session.confirmed_count). Organizer-written texts (names, titles,
descriptions) may carry translations in ``<field>_en`` / ``<field>_zh_hans`` (project/content.py)."""

import datetime as dt
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from accounts.models import Organization

# How long pages say "moved from ..." after a session moved.
MOVED_NOTICE_DAYS = 14


class City(models.Model):
    """``name`` is the original, in the organizer's language; ``name_en`` / ``name_zh_hans`` are
    optional translations (project/content.py). ``local_name`` (e.g. 洛阳) doubles as the Chinese
    name when ``name_zh_hans`` is blank."""

    translation_fallbacks: ClassVar[dict[str, dict[str, str]]] = {"name": {"zh-hans": "local_name"}}
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="cities"
    )
    name = models.CharField(_("name"), max_length=120)
    local_name = models.CharField(_("local name"), max_length=120, blank=True)
    name_en = models.CharField(_("name (English)"), max_length=120, blank=True, default="")
    name_zh_hans = models.CharField(_("name (Simplified Chinese)"), max_length=120, blank=True, default="")
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    timezone = models.CharField(_("timezone"), max_length=64)

    class Meta:
        ordering = ["name"]
        verbose_name = _("city")
        verbose_name_plural = _("cities")
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="city_unique_name"),
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="city_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180), name="city_longitude_range"),
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.local_name}".strip()


class Venue(models.Model):
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="venues"
    )
    city = models.ForeignKey(City, verbose_name=_("city"), on_delete=models.PROTECT, related_name="venues")
    name = models.CharField(_("name"), max_length=200)
    name_en = models.CharField(_("name (English)"), max_length=200, blank=True, default="")
    name_zh_hans = models.CharField(_("name (Simplified Chinese)"), max_length=200, blank=True, default="")
    address = models.CharField(_("address"), max_length=300, blank=True)
    latitude = models.FloatField(_("latitude"))
    longitude = models.FloatField(_("longitude"))
    timezone = models.CharField(_("timezone"), max_length=64)
    max_capacity = models.PositiveIntegerField(_("max capacity"))
    outdoor = models.BooleanField(_("outdoor"), default=False)

    class Meta:
        ordering = ["city__name", "name"]
        verbose_name = _("venue")
        verbose_name_plural = _("venues")
        constraints = [
            models.UniqueConstraint(fields=["city", "name"], name="venue_unique_name_in_city"),
            models.CheckConstraint(condition=Q(max_capacity__gte=0), name="venue_max_capacity_non_negative"),
            models.CheckConstraint(condition=Q(latitude__gte=-90, latitude__lte=90), name="venue_latitude_range"),
            models.CheckConstraint(condition=Q(longitude__gte=-180, longitude__lte=180), name="venue_longitude_range"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.city.name})"


class Series(models.Model):
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="series"
    )
    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True, default="")
    title_zh_hans = models.CharField(_("title (Simplified Chinese)"), max_length=200, blank=True, default="")
    slug = models.SlugField(_("slug"), max_length=120, unique=True)
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True, default="")
    description_zh_hans = models.TextField(_("description (Simplified Chinese)"), blank=True, default="")
    partners = models.JSONField(_("partners"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = _("series")
        verbose_name_plural = _("series")

    def __str__(self) -> str:
        return self.title


class Session(models.Model):
    class Kind(models.TextChoices):
        TALK = "talk", _("Talk")
        NIGHT_SHOOT = "night_shoot", _("Night shoot")
        LIVESTREAM = "livestream", _("Livestream")

    class Allocation(models.TextChoices):
        FIRST_COME = "first_come", _("First come, first served")
        DRAW = "draw", _("Draw")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        CANCELLED = "cancelled", _("Cancelled")

    series = models.ForeignKey(Series, verbose_name=_("series"), on_delete=models.CASCADE, related_name="sessions")
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.TALK)
    title = models.CharField(_("title"), max_length=200)
    title_en = models.CharField(_("title (English)"), max_length=200, blank=True, default="")
    title_zh_hans = models.CharField(_("title (Simplified Chinese)"), max_length=200, blank=True, default="")
    description = models.TextField(_("description"), blank=True)
    description_en = models.TextField(_("description (English)"), blank=True, default="")
    description_zh_hans = models.TextField(_("description (Simplified Chinese)"), blank=True, default="")
    city = models.ForeignKey(City, verbose_name=_("city"), on_delete=models.PROTECT, related_name="sessions")
    venue = models.ForeignKey(
        Venue, verbose_name=_("venue"), on_delete=models.PROTECT, related_name="sessions", null=True, blank=True
    )
    hosts = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("hosts"), related_name="hosted_sessions", blank=True
    )
    starts_at = models.DateTimeField(_("starts at"), db_index=True)
    ends_at = models.DateTimeField(_("ends at"))
    timezone = models.CharField(_("timezone"), max_length=64)
    capacity = models.PositiveIntegerField(_("capacity"), default=0)
    status = models.CharField(_("status"), max_length=20, choices=Status.choices, default=Status.DRAFT, db_index=True)
    registration_opens_at = models.DateTimeField(_("registration opens at"), null=True, blank=True)
    registration_closes_at = models.DateTimeField(_("registration closes at"), null=True, blank=True)
    priority_opens_at = models.DateTimeField(_("priority opens at"), null=True, blank=True)
    waitlist_enabled = models.BooleanField(_("waitlist enabled"), default=True)
    cancel_reason = models.TextField(_("cancel reason"), blank=True)
    # Where and when a published session was before its last move, so pages can say "moved from ...".
    moved_at = models.DateTimeField(_("moved at"), null=True, blank=True)
    moved_from_starts_at = models.DateTimeField(_("moved from (start)"), null=True, blank=True)
    moved_from_timezone = models.CharField(_("moved from (time zone)"), max_length=64, blank=True, default="")
    moved_from_venue = models.ForeignKey(
        Venue,
        verbose_name=_("moved from (venue)"),
        on_delete=models.SET_NULL,
        related_name="+",
        null=True,
        blank=True,
        db_index=False,
    )
    # Fair access (registrations owns the rules; README, "Fair access"): how seats are given out.
    allocation = models.CharField(
        _("allocation"), max_length=20, choices=Allocation.choices, default=Allocation.FIRST_COME
    )
    max_party_size = models.PositiveSmallIntegerField(_("max party size"), default=1)
    offer_hold_minutes = models.PositiveIntegerField(_("offer hold (minutes)"), default=0)
    offer_cutoff_minutes = models.PositiveIntegerField(_("offer cutoff (minutes)"), default=0)
    entry_opens_at = models.DateTimeField(_("entries open at"), null=True, blank=True)
    entry_closes_at = models.DateTimeField(_("entries close at"), null=True, blank=True)
    draw_at = models.DateTimeField(_("draw at"), null=True, blank=True)
    draw_new_accounts = models.BooleanField(_("accounts made after entries opened may enter"), default=True)
    # Seat counters, changed only by registrations.services while holding this row's lock; kept
    # here so that capacity is enforced by one conditional UPDATE and a CHECK constraint. They count
    # people (a party of three is three), not registrations.
    confirmed_count = models.PositiveIntegerField(_("confirmed count"), default=0)
    waitlist_count = models.PositiveIntegerField(_("waitlist count"), default=0)
    offered_count = models.PositiveIntegerField(_("offered count"), default=0)
    # The last waitlist ticket given out: each waitlisted party takes the next number, so joining or
    # leaving the waitlist never renumbers anyone (positions are counted when read).
    waitlist_seq = models.PositiveBigIntegerField(_("waitlist sequence"), default=0)
    # Waitlisted parties (registrations): a party joining the waitlist is told its position, this
    # number, without counting rows.
    waitlist_parties = models.PositiveIntegerField(_("waitlisted parties"), default=0)
    # RFC 5545 SEQUENCE: bumped on every change of time, place or status that a calendar must follow.
    sequence = models.PositiveIntegerField(_("sequence"), default=0)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["starts_at", "id"]
        # A context: Django's own catalogue (contrib.sessions) says "session" means a login session.
        verbose_name = pgettext_lazy("night school", "session")
        verbose_name_plural = pgettext_lazy("night school", "sessions")
        indexes = [models.Index(fields=["series", "starts_at"]), models.Index(fields=["venue", "starts_at"])]
        constraints = [
            models.CheckConstraint(condition=Q(ends_at__gt=F("starts_at")), name="session_ends_after_starts"),
            models.CheckConstraint(condition=Q(capacity__gte=0), name="session_capacity_non_negative"),
            models.CheckConstraint(
                condition=Q(confirmed_count__lte=F("capacity")), name="session_confirmed_within_capacity"
            ),
            # Never oversold: confirmed people plus people holding open offers fit the room.
            models.CheckConstraint(
                condition=Q(confirmed_count__lte=F("capacity") - F("offered_count")),
                name="session_confirmed_and_offered_within_capacity",
            ),
            models.CheckConstraint(condition=Q(max_party_size__gte=1), name="session_max_party_size_positive"),
            models.CheckConstraint(
                condition=Q(entry_opens_at__isnull=True)
                | Q(entry_closes_at__isnull=True)
                | Q(entry_closes_at__gt=F("entry_opens_at")),
                name="session_entry_window_ordered",
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

    def recently_moved(self, *, now, days: int = MOVED_NOTICE_DAYS) -> bool:
        """Pages say "moved from ..." for a while after a published session moved."""
        return self.moved_at is not None and now - self.moved_at < dt.timedelta(days=days)

    @property
    def seats_left(self) -> int:
        """Seats neither confirmed nor held by an open offer (people)."""
        return max(self.capacity - self.confirmed_count - self.offered_count, 0)
