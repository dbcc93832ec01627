"""Writes of private calendar subscriptions."""

from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import User
from calendars.models import CalendarFeed, new_feed_token


@transaction.atomic
def calendar_feed_get_or_create(*, user: User) -> CalendarFeed:
    """The fan's subscription, created on first use. Two first requests at once both end with the
    same feed: the loser of the unique constraint reads the winner's row."""
    feed = CalendarFeed.objects.filter(user=user).first()
    if feed is not None:
        return feed
    try:
        with transaction.atomic():
            return CalendarFeed.objects.create(user=user)
    except IntegrityError:
        return CalendarFeed.objects.get(user=user)


@transaction.atomic
def calendar_feed_revoke(*, user: User) -> CalendarFeed:
    """Replace the token: the old URL stops working at once (404) and a new one is returned."""
    feed = CalendarFeed.objects.select_for_update().filter(user=user).first()
    if feed is None:
        return CalendarFeed.objects.create(user=user)
    feed.token = new_feed_token()
    feed.rotated_at = timezone.now()
    feed.save(update_fields=["token", "rotated_at"])
    return feed
