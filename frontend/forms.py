import datetime as dt

from django import forms
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from events.models import Session
from project import content

# Far-off dates would overflow the UTC window arithmetic; nobody plans a talk outside these.
MIN_DATE = dt.date(2000, 1, 1)
MAX_DATE = dt.date(2199, 12, 31)


class SessionFilterForm(forms.Form):
    """The home page's filters. Bad values are reported on the page and ignored, never a 500."""

    q = forms.CharField(required=False, max_length=100, label=gettext_lazy("Search"))
    city = forms.TypedChoiceField(required=False, coerce=int, empty_value=None, label=gettext_lazy("City"))
    kind = forms.ChoiceField(
        required=False, choices=[("", gettext_lazy("Any kind")), *Session.Kind.choices], label=gettext_lazy("Kind")
    )
    date_from = forms.DateField(
        required=False, label=gettext_lazy("From"), widget=forms.DateInput(attrs={"type": "date"})
    )
    date_to = forms.DateField(required=False, label=gettext_lazy("To"), widget=forms.DateInput(attrs={"type": "date"}))
    near = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)

    def __init__(self, *args, cities=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["city"].choices = [("", _("Any city"))] + [(c.id, content.city_label(c)) for c in cities]

    def clean_near(self) -> tuple[float, float] | None:
        """``"lat,lon"`` from the browser's geolocation (rounded by the page to about a kilometre)."""
        raw = self.cleaned_data.get("near") or ""
        if not raw:
            return None
        try:
            lat_text, lon_text = raw.split(",")
            lat, lon = float(lat_text), float(lon_text)
        except ValueError as exc:
            raise forms.ValidationError(_("Location must be 'latitude,longitude'.")) from exc
        if not (-90 <= lat <= 90 and -180 <= lon <= 180):
            raise forms.ValidationError(_("Location is out of range."))
        return lat, lon

    def _sane_date(self, name: str) -> dt.date | None:
        value = self.cleaned_data.get(name)
        if value is not None and not (MIN_DATE <= value <= MAX_DATE):
            raise forms.ValidationError(
                _("Pick a date between %(first)s and %(last)s.") % {"first": MIN_DATE.year, "last": MAX_DATE.year}
            )
        return value

    def clean_date_from(self) -> dt.date | None:
        return self._sane_date("date_from")

    def clean_date_to(self) -> dt.date | None:
        return self._sane_date("date_to")

    def clean(self):
        cleaned = super().clean()
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and end < start:
            self.add_error("date_to", _("The end date is before the start date."))
        return cleaned


class SignupForm(forms.Form):
    username = forms.RegexField(
        regex=r"^[\w.@+-]+\Z",
        max_length=150,
        label=gettext_lazy("Username"),
        error_messages={"invalid": gettext_lazy("Letters, digits and @ . + - _ only.")},
        widget=forms.TextInput(attrs={"autocomplete": "username", "autocapitalize": "none"}),
    )
    email = forms.EmailField(label=gettext_lazy("Email"), widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    password = forms.CharField(
        label=gettext_lazy("Password"),
        max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        strip=False,
    )
