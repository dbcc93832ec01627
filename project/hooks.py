"""Hooks: how a lower room tells higher rooms that something happened, without importing them.

Arrows point down only (STYLE.md, "Which room may call which"): ``events`` (planning) may not
import ``registrations``, ``notices`` or ``calendars``. When planning changes something they care
about, it calls one hook here; the higher rooms subscribe in their ``AppConfig.ready()``.

Rules:
- Handlers run synchronously, in subscription order, **inside the caller's transaction**: what they
  write (a promoted seat, a notice in the outbox, a job row) commits or rolls back with the change.
  Slow I/O (mail, pushes) never happens in a handler: handlers queue jobs instead.
- A handler's exception propagates and rolls the change back: a change that cannot be announced is
  not made.
- Keyword arguments only; each hook documents what it passes.

The hooks (who announces -> who listens):
- ``session_capacity_raised(session)``: events -> registrations (promote waitlisted fans). Called
  while holding the session row lock, with ``session`` fresh from it.
- ``session_moved(session, previous)``: events -> notices (tell the fans, plan reminders again).
  ``previous`` is ``{"starts_at", "ends_at", "timezone", "place": (venue, city)}`` before the move.
- ``session_cancelled(session)``: events -> notices (tell the fans).
- ``session_scheduled(session)``: events -> notices (a session became published: plan its
  reminders). Also sent again after a move, by ``session_moved``'s listeners, not by events.
- ``seats_given(session, registrations)``: registrations -> notices (fans promoted from the
  waitlist to a confirmed seat).
- ``seats_offered(session, registrations)``: registrations -> notices (a freed seat offered to
  waitlisted parties, each until its ``offer_expires_at``; they accept or decline).
- ``draw_done(session, registrations)``: registrations -> notices (a draw ran: every entry is now
  confirmed or waitlisted).
- ``email_verification_requested(user, token)``: accounts -> notices (email the link
  ``/verify-email/?token=...``).
- ``stream_live(stream)``: streams -> notices (hosts set a livestream live: "starting now").

Providers are the read-side twin: a lower room's serializer asks for something a higher room
computes (``session_links``: calendars' "add to calendar" links in the session resource).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

logger = logging.getLogger(__name__)


class Hook:
    """A named announcement with a list of handlers (``connect`` them in ``AppConfig.ready``)."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._handlers: list[Callable[..., Any]] = []

    def connect(self, handler: Callable[..., Any]) -> None:
        """Subscribe ``handler``; connecting the same function twice keeps one subscription."""
        if handler not in self._handlers:
            self._handlers.append(handler)

    def disconnect(self, handler: Callable[..., Any]) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    def send(self, **payload: Any) -> None:
        """Call every handler with ``payload`` (inside the caller's transaction)."""
        for handler in list(self._handlers):
            handler(**payload)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._handlers)} handler(s)>"


class Provider:
    """One function a higher room provides for a lower room to call (``register`` in ``ready``)."""

    def __init__(self, name: str, default: Callable[..., Any]) -> None:
        self.name = name
        self._default = default
        self._function: Callable[..., Any] | None = None

    def register(self, function: Callable[..., Any]) -> None:
        self._function = function

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return (self._function or self._default)(*args, **kwargs)


session_capacity_raised = Hook("session_capacity_raised")
session_moved = Hook("session_moved")
session_cancelled = Hook("session_cancelled")
session_scheduled = Hook("session_scheduled")
seats_given = Hook("seats_given")
seats_offered = Hook("seats_offered")
draw_done = Hook("draw_done")
email_verification_requested = Hook("email_verification_requested")
stream_live = Hook("stream_live")

session_links = Provider("session_links", default=lambda session: {})
