from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _


class User(AbstractUser):
    """Everyone who signs up is a fan; organizer and host come from memberships (see selectors)."""

    class Language(models.TextChoices):
        # Each language named in itself (the switch shows them so).
        ZH_HANS = "zh-hans", "简体中文"
        EN = "en", "English"

    email = models.EmailField(_("email address"), blank=True, db_index=True)
    # The person's own choice of language for pages, emails and their calendar feed; blank: not
    # chosen yet (the browser's Accept-Language, then the site's default, decide; project/i18n.py).
    language = models.CharField(_("language"), max_length=10, choices=Language.choices, blank=True, default="")
    # When the person proved they read ``email`` (a link by email); cleared if the address changes.
    email_verified_at = models.DateTimeField(_("email verified at"), null=True, blank=True)

    class Meta(AbstractUser.Meta):
        # One person, one draw entry: the entry checks for another account with the same address,
        # case-insensitively, on every entry (an index lookup, not a scan of every account).
        indexes = [models.Index(Lower("email"), name="user_email_lower")]

    @property
    def email_verified(self) -> bool:
        return bool(self.email and self.email_verified_at)


class Organization(models.Model):
    name = models.CharField(_("name"), max_length=200, unique=True)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("organization")
        verbose_name_plural = _("organizations")

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        ORGANIZER = "organizer", _("Organizer")
        HOST = "host", _("Host")

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="memberships"
    )
    organization = models.ForeignKey(
        Organization, verbose_name=_("organization"), on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(_("role"), max_length=20, choices=Role.choices)

    class Meta:
        verbose_name = _("membership")
        verbose_name_plural = _("memberships")
        constraints = [
            models.UniqueConstraint(fields=["user", "organization", "role"], name="membership_unique_role"),
        ]

    def __str__(self) -> str:
        return f"{self.user} {self.role} of {self.organization}"


class WebsocketTicket(models.Model):
    """A single-use pass for opening one websocket as a user, valid for a minute.

    Clients that cannot send the session cookie put it in the URL (``?ticket=``) instead of their API
    token: URLs end up in logs and histories, and a ticket found there is already used or expired.
    Only a digest of the ticket is stored."""

    digest = models.CharField(_("digest"), max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", verbose_name=_("user")
    )
    expires_at = models.DateTimeField(_("expires at"), db_index=True)

    class Meta:
        verbose_name = _("websocket ticket")
        verbose_name_plural = _("websocket tickets")

    def __str__(self) -> str:
        return f"websocket ticket of {self.user_id} until {self.expires_at:%H:%M:%S}"
