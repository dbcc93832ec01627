"""Reading calendars back with three implementations: icalendar (the one that wrote them),
recurring-ical-events (expands them in a time window) and ``ics`` (an independent parser)."""

import datetime as dt

import ics as ics_py
import recurring_ical_events
from icalendar import Calendar


def parse_icalendar(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


def events_by_uid(body: bytes) -> dict:
    return {str(event["UID"]): event for event in parse_icalendar(body).walk("VEVENT")}


def expanded_events(body: bytes, start: dt.datetime, end: dt.datetime) -> list:
    return recurring_ical_events.of(parse_icalendar(body)).between(start, end)


def ics_py_events(body: bytes) -> dict:
    calendar = ics_py.Calendar(body.decode("utf-8"))
    return {event.uid: event for event in calendar.events}
