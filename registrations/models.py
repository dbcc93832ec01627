import secrets

import segno
from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from accounts.models import Organization

# Check-in codes are read aloud and typed at a door: Crockford's base 32 (no I, L, O, U), so no two
# symbols look or sound alike, and typing O for 0 or I/L for 1 still finds the code.
CHECKIN_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CHECKIN_LENGTH = 12  # 60 bits from the OS's CSPRNG; the door API needs a host and is throttled
CHECKIN_GROUP = 4
_CHECKIN_TYPOS = str.maketrans({"O": "0", "I": "1", "L": "1"})


def new_checkin_code() -> str:
    """A fresh code, unguessable from another. Stored ungrouped (``7K3M9XQ2HR4T``).

    The alphabet has 32 symbols, so each is 5 bits of one draw from the OS's CSPRNG: uniform, like
    ``secrets.choice`` per symbol, at one call instead of twelve (every registration of a rush makes one)."""
    bits = secrets.randbits(5 * CHECKIN_LENGTH)
    return "".join(CHECKIN_ALPHABET[(bits >> (5 * i)) & 31] for i in range(CHECKIN_LENGTH))


def checkin_code_grouped(code: str) -> str:
    """``7K3M-9XQ2-HR4T`` for reading; codes of the old long form are shown as they are."""
    if len(code) != CHECKIN_LENGTH or any(c not in CHECKIN_ALPHABET for c in code):
        return code
    return "-".join(code[i : i + CHECKIN_GROUP] for i in range(0, CHECKIN_LENGTH, CHECKIN_GROUP))


def checkin_qr(code: str) -> segno.QRCode:
    """The ticket's QR code: always a full QR code. A short code would fit a Micro QR, which segno
    picks by default and which phone cameras and the door's decoder (jsQR) cannot read."""
    return segno.make_qr(code, error="m")


def checkin_code_candidates(typed: str) -> list[str]:
    """What a typed or scanned code may be stored as: itself (the 22-character codes issued before
    short codes, mixed case, keep working), and its short form without spaces or dashes, in capitals,
    with O read as 0 and I or L as 1."""
    raw = typed.strip()
    short = "".join(raw.split()).replace("-", "").upper().translate(_CHECKIN_TYPOS)
    return list(dict.fromkeys(c for c in (raw, short) if c))


class PriorityCode(models.Model):
    """An early-access code for core fans, valid for one session or a whole series."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="priority_codes"
    )
    code = models.CharField(_("code"), max_length=64, unique=True)
    series = models.ForeignKey(
        "events.Series",
        verbose_name=_("series"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="priority_codes",
    )
    session = models.ForeignKey(
        "events.Session",
        verbose_name=_("session"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="priority_codes",
    )
    max_uses = models.PositiveIntegerField(_("max uses"), default=1)
    uses = models.PositiveIntegerField(_("uses"), default=0)
    expires_at = models.DateTimeField(_("expires at"), null=True, blank=True)
    batch = models.CharField(_("batch"), max_length=100, blank=True, db_index=True)
    # Priority tier in a draw: an entry made with this code counts this many times.
    weight = models.PositiveSmallIntegerField(_("weight"), default=1)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "id"]
        verbose_name = _("priority code")
        verbose_name_plural = _("priority codes")
        constraints = [
            models.CheckConstraint(condition=Q(uses__lte=F("max_uses")), name="priority_code_uses_within_max"),
            models.CheckConstraint(condition=Q(weight__gte=1), name="priority_code_weight_positive"),
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
        ENTERED = "entered", _("Entered")
        CONFIRMED = "confirmed", _("Confirmed")
        WAITLISTED = "waitlisted", _("Waitlisted")
        OFFERED = "offered", _("Offered")
        CANCELLED = "cancelled", _("Cancelled")

    # No single-column index on session: the (session, fan) and (session, status, position) indexes
    # lead with it. Every index here is written on each registration of a rush.
    session = models.ForeignKey(
        "events.Session",
        verbose_name=_("session"),
        on_delete=models.CASCADE,
        related_name="registrations",
        db_index=False,
    )
    fan = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("fan"), on_delete=models.CASCADE, related_name="registrations"
    )
    status = models.CharField(_("status"), max_length=20, choices=Status.choices)
    # The party's ticket in the waitlist: a number taken from Session.waitlist_seq when it joined,
    # never changed while it waits. Its position (1, 2, 3 ... as fans see it) is counted when read:
    # ``waitlist_position``.
    waitlist_ticket = models.PositiveBigIntegerField(_("waitlist ticket"), null=True, blank=True)
    # The fan and their companions: seats are counted by people.
    party_size = models.PositiveSmallIntegerField(_("party size"), default=1)
    companions = models.JSONField(_("companions"), default=list, blank=True)
    offer_expires_at = models.DateTimeField(_("offer expires at"), null=True, blank=True)
    # Draw sessions: the entry's pseudonymous reference (published in the drawn order) and weight.
    entry_ref = models.CharField(_("entry reference"), max_length=32, null=True, blank=True)
    entry_weight = models.PositiveIntegerField(_("entry weight"), default=1)
    checkin_code = models.CharField(_("checkin code"), max_length=64, default=new_checkin_code)  # unique: see Meta
    checked_in_at = models.DateTimeField(_("checked in at"), null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("checked in by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        db_index=False,
    )
    priority_code = models.ForeignKey(
        PriorityCode,
        verbose_name=_("priority code"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="registrations",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)
    cancelled_at = models.DateTimeField(_("cancelled at"), null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        indexes = [
            models.Index(fields=["session", "status", "waitlist_ticket"]),
            models.Index(fields=["offer_expires_at"], condition=Q(status="offered"), name="registration_open_offers"),
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
            models.UniqueConstraint(fields=["session", "waitlist_ticket"], name="registration_unique_waitlist_ticket"),
            models.UniqueConstraint(fields=["entry_ref"], name="registration_unique_entry_ref"),
            models.CheckConstraint(
                condition=(Q(status="waitlisted") & Q(waitlist_ticket__gte=1))
                | (~Q(status="waitlisted") & Q(waitlist_ticket__isnull=True)),
                name="registration_waitlist_ticket_iff_waitlisted",
            ),
            models.CheckConstraint(
                condition=(Q(status="offered") & Q(offer_expires_at__isnull=False))
                | (~Q(status="offered") & Q(offer_expires_at__isnull=True)),
                name="registration_offer_deadline_iff_offered",
            ),
            models.CheckConstraint(condition=Q(party_size__gte=1), name="registration_party_size_positive"),
            models.CheckConstraint(condition=Q(entry_weight__gte=1), name="registration_entry_weight_positive"),
            models.CheckConstraint(
                condition=Q(checked_in_at__isnull=True) | Q(status="confirmed"),
                name="registration_checkin_only_confirmed",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.fan} → {self.session} ({self.status})"

    @property
    def waitlist_position(self) -> int | None:
        """The party's place in the waitlist as fans see it (1 = next), gapless: the waitlisted parties
        of the session whose ticket is not later than this one's. Counted when read (an index range
        count), so that leaving the waitlist costs the same at 100 or 100,000 waiting; a selector or
        service may have found it already (``keep_waitlist_position``)."""
        if self.status != self.Status.WAITLISTED or self.waitlist_ticket is None:
            return None
        cached = self.__dict__.get("_waitlist_position")
        if cached is None:
            from registrations.lines import counted_position

            cached = counted_position(session_id=self.session_id, ticket=self.waitlist_ticket)
            self.keep_waitlist_position(cached)
        return cached

    @waitlist_position.setter
    def waitlist_position(self, value: int | None) -> None:
        """Placing a party at position N of an empty waitlist gives it ticket N (fixtures, tests)."""
        self.waitlist_ticket = value
        self.keep_waitlist_position(value)

    def keep_waitlist_position(self, position: int | None) -> None:
        """Keep a position found without counting (a list read in order, the copy of the line)."""
        self.__dict__["_waitlist_position"] = position

    def forget_waitlist_position(self) -> None:
        self.__dict__.pop("_waitlist_position", None)


class Draw(models.Model):
    """The verifiable draw of a draw session (README, "Fair access"): the SHA-256 of a secret seed is
    published when entries open; the seed and the drawn order once the draw has run."""

    session = models.OneToOneField(
        "events.Session", verbose_name=_("session"), on_delete=models.CASCADE, related_name="draw"
    )
    seed = models.CharField(_("seed"), max_length=64)
    seed_sha256 = models.CharField(_("seed SHA-256"), max_length=64)
    algorithm = models.CharField(_("algorithm"), max_length=100)
    drawn_at = models.DateTimeField(_("drawn at"), null=True, blank=True)
    # The entry references the draw confirmed (at most the seats): the published result.
    winners = models.JSONField(_("winners"), default=list, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("draw")
        verbose_name_plural = _("draws")

    def __str__(self) -> str:
        return f"{self.session} ({self.algorithm})"
