"""The session form of the workspace: times are typed on the venue's clock (the zone is shown
beside each time field); the events services convert nothing, they get aware datetimes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from events.models import City, Session, Venue
from project import content, formats


def _venue_choices(venues: list[Venue]) -> list:
    """Venues grouped by city (``<optgroup>``); the page hides the other cities' groups."""
    groups: dict[str, list[tuple[int, str]]] = {}
    for venue in venues:
        groups.setdefault(content.city_label(venue.city), []).append((venue.id, content.translated(venue, "name")))
    return [("", "—")] + list(groups.items())


class HostChoice(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj) -> str:
        return obj.get_full_name() or obj.username


class LocalDateTimeField(forms.DateTimeField):
    """A date and time on the venue's clock: kept naive here; SessionForm.clean makes it aware in the
    venue's zone (Django would read it in the site's zone)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value: Any) -> dt.datetime | None:
        moment = super().to_python(value)
        return moment.replace(tzinfo=None) if moment is not None else None


# The fair-access times, typed on the venue's clock like the start and end.
FAIR_TIMES = ("entry_opens_at", "entry_closes_at", "draw_at")
FAIR_NUMBERS = ("max_party_size", "offer_hold_minutes", "offer_cutoff_minutes")


class SessionForm(forms.Form):
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Session.Kind.choices)
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    title_en = forms.CharField(label=gettext_lazy("Title in English"), max_length=200, required=False)
    description = forms.CharField(
        label=gettext_lazy("Description"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    city = forms.TypedChoiceField(label=gettext_lazy("City"), coerce=int, empty_value=None)
    venue = forms.TypedChoiceField(label=gettext_lazy("Venue"), coerce=int, empty_value=None, required=False)
    date = forms.DateField(label=gettext_lazy("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(
        label=gettext_lazy("Starts"), widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M")
    )
    end = forms.TimeField(
        label=gettext_lazy("Ends"),
        widget=forms.TimeInput(attrs={"type": "time"}, format="%H:%M"),
        help_text=gettext_lazy("Before the start: the next day."),
    )
    hosts = HostChoice(label=gettext_lazy("Hosts"), queryset=None, required=False, widget=forms.CheckboxSelectMultiple)
    capacity = forms.IntegerField(label=gettext_lazy("Capacity"), min_value=0, required=False)
    waitlist_enabled = forms.BooleanField(label=gettext_lazy("Waitlist"), required=False, initial=True)
    # Fair access (API.md "Fair access"); an empty number keeps the session's value (new: the default).
    allocation = forms.ChoiceField(
        label=gettext_lazy("Seats are given"),
        choices=Session.Allocation.choices,
        required=False,
        initial=Session.Allocation.FIRST_COME,
    )
    entry_opens_at = LocalDateTimeField(label=gettext_lazy("Entries open"), required=False)
    entry_closes_at = LocalDateTimeField(label=gettext_lazy("Entries close"), required=False)
    draw_at = LocalDateTimeField(
        label=gettext_lazy("Draw at"),
        required=False,
        help_text=gettext_lazy("Empty: when entries close."),
    )
    draw_refuse_new_accounts = forms.BooleanField(
        label=gettext_lazy("Refuse accounts made after entries opened"), required=False
    )
    max_party_size = forms.IntegerField(
        label=gettext_lazy("Largest party"),
        min_value=1,
        required=False,
        initial=1,
        help_text=gettext_lazy("People one fan may register, themselves included."),
    )
    offer_hold_minutes = forms.IntegerField(
        label=gettext_lazy("Offer hold (minutes)"),
        min_value=0,
        required=False,
        initial=0,
        help_text=gettext_lazy("How long a waitlisted party has to accept a freed seat; 0: it is theirs at once."),
    )
    offer_cutoff_minutes = forms.IntegerField(
        label=gettext_lazy("No offers in the last (minutes)"),
        min_value=0,
        required=False,
        initial=0,
        help_text=gettext_lazy("From then on a free seat goes to whoever asks first; 0: offers until the start."),
    )

    def __init__(self, *args, cities: list[City], venues: list[Venue], hosts, **kwargs):
        super().__init__(*args, **kwargs)
        self.cities = {c.id: c for c in cities}
        self.venues = {v.id: v for v in venues}
        self.fields["city"].choices = [("", "—")] + [(c.id, content.city_label(c)) for c in cities]
        self.fields["venue"].choices = _venue_choices(venues)
        self.fields["hosts"].queryset = hosts

    @classmethod
    def initial_of(cls, session: Session) -> dict[str, Any]:
        starts = formats.local(session.starts_at, session.timezone)
        ends = formats.local(session.ends_at, session.timezone)
        return {
            "kind": session.kind,
            "title": session.title,
            "title_en": session.title_en,
            "description": session.description,
            "city": session.city_id,
            "venue": session.venue_id,
            "date": starts.date(),
            "start": starts.time().replace(tzinfo=None),
            "end": ends.time().replace(tzinfo=None),
            "hosts": list(session.hosts.all()),
            "capacity": session.capacity,
            "waitlist_enabled": session.waitlist_enabled,
            "allocation": session.allocation,
            "draw_refuse_new_accounts": not session.draw_new_accounts,
            **{name: getattr(session, name) for name in FAIR_NUMBERS},
            **{
                name: formats.local(moment, session.timezone).replace(tzinfo=None)
                for name in FAIR_TIMES
                if (moment := getattr(session, name)) is not None
            },
        }

    def fair_times(self) -> list[forms.BoundField]:
        """The entry window and the draw, for the template (each shown with the zone)."""
        return [self[name] for name in FAIR_TIMES]

    def zone_name(self) -> str | None:
        """The zone the times are read in: the chosen venue's, else the city's."""
        venue = self.venues.get(self._raw_int("venue"))
        if venue is not None:
            return venue.timezone
        city = self.cities.get(self._raw_int("city"))
        return city.timezone if city is not None else None

    def _raw_int(self, name: str) -> int | None:
        value = self.data.get(name) if self.is_bound else self.initial.get(name)
        try:
            return int(value) if value not in (None, "") else None
        except (TypeError, ValueError):
            return None

    def zone_label(self) -> str:
        zone = self.zone_name()
        if zone is None:
            return _("the venue's time")
        day = self.cleaned_data.get("date") if hasattr(self, "cleaned_data") else None
        moment = dt.datetime.combine(day or timezone.now().date(), dt.time(12), tzinfo=dt.UTC)
        return formats.zone_label(moment, zone)

    def clean(self) -> dict[str, Any]:
        super().clean()
        cleaned = self.cleaned_data
        venue_id, city_id = cleaned.get("venue"), cleaned.get("city")
        venue = self.venues.get(venue_id) if venue_id is not None else None
        if venue_id is not None and venue is None:
            self.add_error("venue", _("Pick one of the listed venues."))
        if venue is not None and city_id is not None and venue.city_id != city_id:
            self.add_error(
                "venue",
                _("%(venue)s is in %(city)s, not in the chosen city.")
                % {"venue": content.translated(venue, "name"), "city": content.city_label(venue.city)},
            )
        day, start, end = cleaned.get("date"), cleaned.get("start"), cleaned.get("end")
        zone = self.zone_name()
        if day and start and end and zone:
            try:
                cleaned["starts_at"] = formats.aware(dt.datetime.combine(day, start), zone)
            except formats.AmbiguousLocalTime:
                self.add_error("start", _("The clocks change at this time there: pick another time."))
            end_day = day + dt.timedelta(days=1) if end <= start else day
            try:
                cleaned["ends_at"] = formats.aware(dt.datetime.combine(end_day, end), zone)
            except formats.AmbiguousLocalTime:
                self.add_error("end", _("The clocks change at this time there: pick another time."))
        for name in FAIR_TIMES:
            moment = cleaned.get(name)
            if moment is None or self.has_error(name):
                continue
            if zone is None:
                cleaned[name] = None
                continue
            try:
                cleaned[name] = formats.aware(moment, zone)
            except formats.AmbiguousLocalTime:
                self.add_error(name, _("The clocks change at this time there: pick another time."))
        return cleaned

    def service_data(self) -> dict[str, Any]:
        """What events.services.session_create/session_update take."""
        data = self.cleaned_data
        values: dict[str, Any] = {
            name: data[name] for name in ("kind", "title", "title_en", "description", "waitlist_enabled")
        }
        values["venue"] = data.get("venue")
        values["city"] = data.get("city") if data.get("venue") is None else None
        values["hosts"] = [h.id for h in data.get("hosts") or []]
        values["starts_at"], values["ends_at"] = data.get("starts_at"), data.get("ends_at")
        if data.get("capacity") is not None:
            values["capacity"] = data["capacity"]
        if data.get("allocation"):
            values["allocation"] = data["allocation"]
        values.update({name: data.get(name) for name in FAIR_TIMES})
        values["draw_new_accounts"] = not data.get("draw_refuse_new_accounts")
        values.update({name: data[name] for name in FAIR_NUMBERS if data.get(name) is not None})
        return values


# Service error fields -> the form field that shows them.
FIELD_OF = {
    "starts_at": "start",
    "ends_at": "end",
    "hosts": "hosts",
    "venue": "venue",
    "city": "city",
    "draw_new_accounts": "draw_refuse_new_accounts",
}


class CancelSessionForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Reason"),
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=gettext_lazy("Goes into the message every registered fan receives."),
    )
