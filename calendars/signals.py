"""Cache invalidation for calendar feeds (the only use of signals in this app).

A feed's cache key already changes with its sessions' ``updated_at``/``sequence``/count (see
``calendars.selectors``). These receivers cover what a feed shows from other rows, which has no
timestamp to fingerprint: venue name and address, city names, series and organization names, a
stream's playback URL, and a session saved with ``update_fields`` that leave ``updated_at`` alone.
They bump one global version after the transaction commits (bumping before commit would let a
concurrent request cache the old rows under the new version). Changes made with
``QuerySet.update()`` on these models send no signal and are not seen until the feed's sessions
change or the cached entry expires (``FEED_TTL_SECONDS``).
"""

from django.db import transaction
from django.db.models.signals import post_delete, post_save

from accounts.models import Organization
from events.models import City, Series, Session, Venue
from streams.models import Stream

WATCHED_MODELS = (Organization, City, Venue, Series, Session, Stream)


def _bump_after_commit(**kwargs) -> None:
    from calendars.selectors import calendar_version_bump

    transaction.on_commit(calendar_version_bump, using=kwargs.get("using"))


def connect() -> None:
    for model in WATCHED_MODELS:
        uid = f"calendars-invalidate-{model._meta.label_lower}"
        post_save.connect(_bump_after_commit, sender=model, dispatch_uid=f"{uid}-save", weak=False)
        post_delete.connect(_bump_after_commit, sender=model, dispatch_uid=f"{uid}-delete", weak=False)
