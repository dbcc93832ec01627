"""Waitlist positions for pages, answered from each process's copy of a session's waiting line.

A waitlisted party's position is the number of waiting parties whose ticket is at most its own.
Counting them on every page is an index range scan as long as the position: 5,000 waiting fans who
reload during a rush scan 12.5 million index entries for every round of reloads. Instead each process
keeps a copy of a session's line (its waiting tickets in order), read in one statement with the
session's counters, and answers a position by bisection.

Why the copy stays right without being read again on every page: a party joining the waitlist takes
ticket ``waitlist_seq + 1`` and adds one to ``waitlist_parties``; a party leaving it (served, offered,
cancelled) takes one from ``waitlist_parties``. So ``waitlist_seq - waitlist_parties``, the parties
that ever left, never goes down, and while it is unchanged nobody left: the line is the copy followed
by the tickets given out since, all still waiting. A page reads the two counters with the fan's place
anyway; only when a party has left since the copy (a cancellation, a seat given) is the line read
again, once per process.

Where the copy cannot answer (the counters disagree with the rows, the ticket is not in the line) the
position is counted in the database as before: the copy is a shortcut, never the truth.
"""

import bisect
import threading
from array import array
from dataclasses import dataclass

from project.db import prepared_cursor
from registrations.models import Registration

# Lines kept per process: far more than the sessions a month has waiting at once. Past it the
# oldest copies are dropped (they are read again when next asked for).
MAX_LINES = 512


@dataclass(frozen=True)
class _Line:
    seq: int  # the session's last ticket given out when the line was read
    departed: int  # waitlist_seq - waitlist_parties then: parties that ever left the waitlist
    tickets: array | None  # the waiting tickets, ascending; None: the counters disagreed with them

    def position(self, ticket: int) -> int | None:
        if self.tickets is None:
            return None
        if ticket > self.seq:  # joined since the copy: everyone after the copy still waits
            return len(self.tickets) + ticket - self.seq
        index = bisect.bisect_left(self.tickets, ticket)
        if index == len(self.tickets) or self.tickets[index] != ticket:
            return None  # not in the copy: it cannot answer for this ticket
        return index + 1


_lines: dict[int, _Line] = {}
_lines_lock = threading.Lock()

_LINE_SQL = """
SELECT s.waitlist_seq, s.waitlist_parties, r.waitlist_ticket
FROM events_session s LEFT JOIN registrations_registration r ON r.session_id = s.id AND r.status = %s
WHERE s.id = %s
ORDER BY r.waitlist_ticket
"""

_COUNT_SQL = """
SELECT COUNT(*) FROM registrations_registration
WHERE session_id = %s AND status = %s AND waitlist_ticket <= %s
"""


def waitlist_position(*, session_id: int, ticket: int | None, waitlist_seq: int, waitlist_parties: int) -> int | None:
    """The position of the waiting party holding ``ticket`` (None: not waiting), given the session's
    counters as read with it (in the same statement, so that they and the ticket are of one moment)."""
    if ticket is None:
        return None
    departed = waitlist_seq - waitlist_parties
    line = _lines.get(session_id)
    if line is None or line.departed != departed:
        line = _read_line(session_id)
    position = line.position(ticket) if line is not None and line.departed == departed else None
    return position if position is not None else counted_position(session_id=session_id, ticket=ticket)


def _read_line(session_id: int) -> _Line | None:
    with prepared_cursor() as cursor:
        cursor.execute(_LINE_SQL, [Registration.Status.WAITLISTED, session_id])
        rows = cursor.fetchall()
    if not rows:
        return None
    seq, parties = rows[0][0], rows[0][1]
    tickets = array("q", (row[2] for row in rows if row[2] is not None))
    # Counters that disagree with the rows cannot vouch for the copy: positions are counted until a
    # party leaves, and the line is not read again on every page meanwhile.
    line = _Line(seq=seq, departed=seq - parties, tickets=tickets if len(tickets) == parties else None)
    with _lines_lock:
        if len(_lines) >= MAX_LINES:
            del _lines[next(iter(_lines))]
        _lines[session_id] = line
    return line


def counted_position(*, session_id: int, ticket: int) -> int:
    """The position counted from the index: the waiting parties whose ticket is not later."""
    with prepared_cursor() as cursor:
        cursor.execute(_COUNT_SQL, [session_id, Registration.Status.WAITLISTED, ticket])
        return cursor.fetchone()[0]


def forget_lines() -> None:
    """Drop every copy (tests, whose rolled-back sessions may come back under the same ids)."""
    with _lines_lock:
        _lines.clear()
