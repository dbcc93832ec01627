"""Private calendar subscriptions. The public feeds (a session, a series) need no table."""

import secrets

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


def new_feed_token() -> str:
    """256 bits from the OS's CSPRNG, URL-safe: the token alone grants read access to a fan's
    sessions (calendar apps subscribe without logging in), so it must not be guessable."""
    return secrets.token_urlsafe(32)


class CalendarFeed(models.Model):
    """One private subscription URL per fan. Revoking replaces the token, so the old URL 404s."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(_("token"), max_length=64, unique=True, default=new_feed_token)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    rotated_at = models.DateTimeField(_("rotated at"), null=True, blank=True)

    class Meta:
        verbose_name = _("calendar feed")
        verbose_name_plural = _("calendar feeds")

    def __str__(self) -> str:
        return f"calendar feed of {self.user}"
