"""What the notices room does when lower rooms announce a change (``project.hooks``); every
handler runs inside the announcing transaction, so its notices and jobs commit with the change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from events.models import Session
from notices import compose
from notices.models import Notice, StreamFollow
from notices.reminders import reminders_plan
from notices.services import Outgoing, compose_for, notices_queue
from project import hooks, jobs
from project.site import site_url
from registrations.models import Registration
from registrations.selectors import active_registrations_of_session
from streams.models import Stream


def _to_active_fans(session: Session, kind: str, text: Any) -> list[Notice]:
    """One notice per confirmed or waitlisted fan, in the fan's language. Fans without an email
    address get it on the site only."""
    outgoing = []
    for registration in active_registrations_of_session(session=session).order_by("id"):
        _language, subject, body = compose_for(registration.fan, lambda r=registration: _pair(text(r)))
        outgoing.append(Outgoing(recipient=registration.fan, subject=subject, body=body))
    return notices_queue(kind=kind, outgoing=outgoing, session=session)


def _pair(text: compose.Text) -> tuple[str, str]:
    return text.subject, text.body


def on_session_moved(*, session: Session, previous: dict[str, Any] | None = None) -> None:
    _to_active_fans(
        session, Notice.Kind.MOVED, lambda r: compose.moved(session=session, registration=r, previous=previous)
    )
    if session.status == Session.Status.PUBLISHED:
        reminders_plan(session=session)  # for the new time; the old time's jobs find a new sequence


def on_session_scheduled(*, session: Session) -> None:
    reminders_plan(session=session)


def on_session_cancelled(*, session: Session) -> None:
    _to_active_fans(session, Notice.Kind.CANCELLED, lambda r: compose.cancelled(session=session, registration=r))


def on_seats_given(*, session: Session, registrations: Sequence[Registration]) -> None:
    _tell_later(Notice.Kind.PROMOTED, session, registrations)


def on_seats_offered(*, session: Session, registrations: Sequence[Registration]) -> None:
    _tell_later(Notice.Kind.OFFERED, session, registrations)


def _tell_later(kind: str, session: Session, registrations: Sequence[Registration]) -> None:
    """Seats given or offered are announced inside the transaction that holds the session's row lock,
    which every seat of the session waits for: composing the emails there (two languages, templates)
    made each freed seat hold the lock several times longer. A job in the same transaction (so the
    notice cannot be lost) composes them right after (``seats_tell``)."""
    from notices.tasks import tell_seats

    parties = [[r.id, r.offer_expires_at.isoformat() if r.offer_expires_at else None] for r in registrations]
    jobs.enqueue(tell_seats, kind, session.id, parties, timezone.now().isoformat())


def seats_tell(*, kind: str, session_id: int, parties: list[list[Any]], at: str) -> int:
    """Write the notices of parties given seats (``promoted``) or offered seats (``offered``) at
    ``at``, once each (dedupe key: the offer's deadline, or the time of the promotion), and only to
    parties that still hold what they were given (a fan who already accepted, or left, is not told
    of it afterwards). Returns how many were written."""
    expected = Registration.Status.CONFIRMED if kind == Notice.Kind.PROMOTED else Registration.Status.OFFERED
    deadline_of = {registration_id: deadline for registration_id, deadline in parties}
    keys = {rid: f"{kind}:{rid}:{deadline or at}" for rid, deadline in deadline_of.items()}
    done = set(Notice.objects.filter(dedupe_key__in=keys.values()).values_list("dedupe_key", flat=True))
    rows = Registration.objects.filter(id__in=list(keys), status=expected).select_related(
        "fan", "session", "session__series", "session__venue", "session__city"
    )
    text = compose.promoted if kind == Notice.Kind.PROMOTED else compose.offered
    outgoing = []
    for registration in rows:
        deadline = deadline_of[registration.id]
        if keys[registration.id] in done:
            continue
        if kind == Notice.Kind.OFFERED and (
            registration.offer_expires_at is None or registration.offer_expires_at.isoformat() != deadline
        ):
            continue  # this offer ended; a later one has its own notice
        _language, subject, body = compose_for(
            registration.fan, lambda r=registration: _pair(text(session=r.session, registration=r))
        )
        outgoing.append(
            Outgoing(recipient=registration.fan, subject=subject, body=body, dedupe_key=keys[registration.id])
        )
    if not outgoing:
        return 0
    with transaction.atomic():
        return len(notices_queue(kind=kind, outgoing=outgoing, session=Session.objects.get(id=session_id)))


def on_draw_done(*, session: Session, registrations: Sequence[Registration]) -> None:
    """A draw may have 100,000 entries: their notices are written by a job, in batches, after the
    draw's own transaction (which stays short), each once (dedupe key)."""
    from notices.tasks import tell_draw_results

    jobs.enqueue(tell_draw_results, session.id)


def draw_results_tell(*, session_id: int, batch: int = 1000) -> int:
    """Write the notices of a drawn session's entries that have none yet, ``batch`` at a time.
    Returns how many were written."""
    written = 0
    entries = Registration.objects.filter(session_id=session_id, entry_ref__isnull=False).order_by("id")
    ids = list(entries.values_list("id", flat=True))
    for start in range(0, len(ids), batch):
        chunk = ids[start : start + batch]
        keys = {f"drawn:{session_id}:{pk}" for pk in chunk}
        done = set(Notice.objects.filter(dedupe_key__in=keys).values_list("dedupe_key", flat=True))
        todo = [pk for pk in chunk if f"drawn:{session_id}:{pk}" not in done]
        with transaction.atomic():
            written += len(_tell_drawn(session_id, todo))
    return written


def _tell_drawn(session_id: int, ids: list[int]) -> list[Notice]:
    outgoing = []
    session = None
    rows = Registration.objects.filter(id__in=ids).select_related(
        "fan", "session", "session__series", "session__venue", "session__city"
    )
    for registration in rows:
        session = registration.session
        _language, subject, body = compose_for(
            registration.fan, lambda r=registration: _pair(compose.drawn(session=r.session, registration=r))
        )
        key = f"drawn:{session_id}:{registration.id}"
        outgoing.append(Outgoing(recipient=registration.fan, subject=subject, body=body, dedupe_key=key))
    if not outgoing:
        return []
    return notices_queue(kind=Notice.Kind.DRAWN, outgoing=outgoing, session=session)


def on_email_verification_requested(*, user: User, token: str) -> None:
    _language, subject, body = compose_for(
        user, lambda: _pair(compose.verify_email(username=user.username, token=token))
    )
    notices_queue(kind=Notice.Kind.ACCOUNT, outgoing=[Outgoing(recipient=user, subject=subject, body=body)])


def on_stream_live(*, stream: Stream) -> None:
    """Tell the fans of the stream's session it is live, once per stream and fan (dedupe key): the
    ones the stream's audience lets in (a confirmed-only stream: confirmed fans only); waitlisted
    fans are told the stream is theirs. A public stream's followers hear it too."""
    session = stream.session
    if session is None:
        return
    registrations = active_registrations_of_session(session=session).order_by("id")
    if stream.audience == "confirmed":
        registrations = registrations.filter(status=Registration.Status.CONFIRMED)
    watch_url = f"{site_url()}/streams/{stream.id}/"
    outgoing = []
    for registration in registrations:
        _language, subject, body = compose_for(
            registration.fan,
            lambda r=registration: _pair(
                compose.stream_live(session=session, registration=r, stream_title=stream.title, watch_url=watch_url)
            ),
        )
        outgoing.append(
            Outgoing(
                recipient=registration.fan,
                subject=subject,
                body=body,
                dedupe_key=f"stream-live:{stream.id}:{registration.fan_id}",
            )
        )
    if stream.audience == Stream.Audience.PUBLIC:
        outgoing += _to_followers(stream, session, registered={item.recipient.id for item in outgoing})
    notices_queue(kind=Notice.Kind.STARTING, outgoing=outgoing, session=session)


def _to_followers(stream: Stream, session: Session, *, registered: set[int]) -> list[Outgoing]:
    """ "Starting now" to the followers of a public stream who are not among its registrants."""
    outgoing = []
    for follow in StreamFollow.objects.filter(stream=stream).exclude(user_id__in=registered).select_related("user"):
        fan = follow.user
        _language, subject, body = compose_for(
            fan, lambda f=fan: _pair(compose.starting(session=session, stream_id=stream.id, username=f.username))
        )
        outgoing.append(
            Outgoing(recipient=fan, subject=subject, body=body, dedupe_key=f"stream-live:{stream.id}:{fan.id}")
        )
    return outgoing


def connect() -> None:
    hooks.stream_live.connect(on_stream_live)
    hooks.session_moved.connect(on_session_moved)
    hooks.session_cancelled.connect(on_session_cancelled)
    hooks.seats_given.connect(on_seats_given)
    hooks.seats_offered.connect(on_seats_offered)
    hooks.draw_done.connect(on_draw_done)
    hooks.email_verification_requested.connect(on_email_verification_requested)
    hooks.session_scheduled.connect(on_session_scheduled)
