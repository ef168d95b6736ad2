"""Forms of satellite sites. They validate; services write (and check again)."""

from __future__ import annotations

import functools
from typing import Any

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.choices import normalize_choices
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from gathering.privacy.consent_versions import check_shown_version
from gathering.program.models import Edition
from gathering.registration.countries import country_choices
from gathering.registration.forms import _language_choices
from gathering.satellites import validation
from gathering.satellites.consent import consent_text, retention_days
from gathering.satellites.models import EXPECTED_ATTENDANCE_MAX, StreamChannel

_TEXT_INPUT = {"dir": "auto", "autocomplete": "off"}


@functools.lru_cache(maxsize=8)
def _countries(language: str) -> list[tuple[str, str]]:
    with translation.override(language):
        return normalize_choices([("", str(_("Choose a country"))), *country_choices()])  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1)
def _timezones() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in validation.timezone_names()]


@functools.lru_cache(maxsize=1)
def _languages() -> list[tuple[str, str]]:
    return normalize_choices(_language_choices())  # type: ignore[no-any-return]


def _set_choices(field: forms.Field, choices: list[tuple[str, str]]) -> None:
    # What ChoiceField.choices = ... does, minus normalising 400 time zones or 250 countries
    # again on every request (the lists above are normalised once per language and process).
    field._choices = choices  # type: ignore[attr-defined]
    field.widget.choices = choices


class SiteApplicationForm(forms.Form):
    """A coordinator's application to host a site (works without JavaScript)."""

    name = forms.CharField(
        label=_("Name of the site (optional)"),
        required=False,
        max_length=validation.NAME_MAX_LENGTH,
        help_text=_(
            "Such as “Berlin community hall”. Without one, the site is named after its city."
        ),
        widget=forms.TextInput(attrs=_TEXT_INPUT),
    )
    city = forms.CharField(
        label=_("City"),
        max_length=validation.CITY_MAX_LENGTH,
        widget=forms.TextInput(attrs=_TEXT_INPUT),
        error_messages={"required": _("Enter the city of the site.")},
    )
    country = forms.ChoiceField(
        label=_("Country"),
        error_messages={
            "invalid_choice": _("Choose a country from the list."),
            "required": _("Choose a country from the list."),
        },
    )
    is_online = forms.BooleanField(
        label=_("The site is online (a video call or online room, no venue)"), required=False
    )
    venue = forms.CharField(
        label=_("Venue"),
        required=False,
        max_length=validation.VENUE_MAX_LENGTH,
        help_text=_("The hall, its address or a description people can find. Shown publicly."),
        widget=forms.TextInput(attrs=_TEXT_INPUT),
    )
    expected_attendance = forms.IntegerField(
        label=_("Expected attendance"),
        min_value=1,
        max_value=EXPECTED_ATTENDANCE_MAX,
        error_messages={
            "invalid": _("Enter a whole number."),
            "required": _("Enter how many people you expect."),
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "dir": "ltr"}),
    )
    timezone = forms.ChoiceField(
        label=_("Time zone of the site"),
        help_text=_("The program is shown to your site in this time zone."),
        error_messages={
            "invalid_choice": _("Choose a time zone from the list, such as Europe/Berlin."),
            "required": _("Choose a time zone from the list, such as Europe/Berlin."),
        },
        widget=forms.Select(attrs={"dir": "ltr"}),
    )
    contact_name = forms.CharField(
        label=_("Your name"),
        max_length=validation.CONTACT_NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={**_TEXT_INPUT, "autocomplete": "name"}),
        error_messages={"required": _("Enter your name.")},
    )
    contact_email = forms.CharField(
        label=_("Your email address"),
        max_length=validation.EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"dir": "ltr", "autocomplete": "email"}),
        error_messages={"required": _("Enter your email address.")},
        help_text=_("The organisers write to you here; it is never published."),
    )
    language = forms.ChoiceField(
        label=_("Language of our emails"),
        error_messages={"invalid_choice": _("Choose one of the languages offered.")},
    )
    consent = forms.BooleanField(
        required=True, error_messages={"required": _("Please give your consent to apply.")}
    )

    def __init__(self, *args: Any, edition: Edition, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.edition = edition
        self.consent_text = consent_text(retention_days=retention_days(edition.retention_days))
        self.fields["consent"].label = self.consent_text.statement
        _set_choices(self.fields["country"], _countries(get_language() or settings.LANGUAGE_CODE))
        _set_choices(self.fields["timezone"], _timezones())
        self.fields["timezone"].initial = edition.timezone
        _set_choices(self.fields["language"], _languages())
        self.fields["language"].initial = (get_language() or settings.LANGUAGE_CODE)[:2]

    def clean_name(self) -> str:
        return validation.clean_site_name(self.cleaned_data.get("name", ""))

    def clean_city(self) -> str:
        return validation.clean_city(self.cleaned_data["city"])

    def clean_country(self) -> str:
        return validation.clean_country(self.cleaned_data["country"])

    def clean_venue(self) -> str:
        return validation.clean_venue(self.cleaned_data.get("venue", ""))

    def clean_timezone(self) -> str:
        return validation.clean_timezone(self.cleaned_data["timezone"])

    def clean_contact_name(self) -> str:
        return validation.clean_contact_name(self.cleaned_data["contact_name"])

    def clean_contact_email(self) -> str:
        return validation.clean_email(self.cleaned_data["contact_email"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "venue" in data and not data.get("is_online") and not data.get("venue"):
            self.add_error("venue", _("Enter the venue, or tick “online”."))
        check_shown_version(self, version=self.consent_text.version)
        return data

    def visible_fields_in_order(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name != "consent"]


class AttendanceReportForm(forms.Form):
    """A count of the people at the site; the time is read in the site's time zone (the view
    activates it)."""

    count = forms.IntegerField(
        label=_("People present"),
        error_messages={
            "invalid": _("Enter the number of people as a whole number."),
            "required": _("Enter the number of people present."),
        },
        widget=forms.NumberInput(attrs={"inputmode": "numeric", "min": "0", "dir": "ltr"}),
    )
    reported_at = forms.DateTimeField(
        label=_("Counted at (leave empty for now)"),
        required=False,
        error_messages={"invalid": _("Enter a date and time such as 2026-07-05 14:30.")},
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local", "step": "60", "dir": "ltr"}, format="%Y-%m-%dT%H:%M"
        ),
    )
    note = forms.CharField(
        label=_("Note (optional)"),
        required=False,
        max_length=validation.NOTE_MAX_LENGTH,
        help_text=_("For the organisers, such as “the hall is full”. No names or photos."),
        widget=forms.TextInput(attrs=_TEXT_INPUT),
    )

    def clean_count(self) -> int:
        return validation.clean_count(self.cleaned_data["count"])

    def clean_note(self) -> str:
        return validation.clean_note(self.cleaned_data.get("note", ""))


class ChannelForm(forms.Form):
    """The stream the site shows: one of its edition's channels (empty: the main stream)."""

    channel = forms.ModelChoiceField(
        label=_("Stream shown at the site"),
        queryset=StreamChannel.objects.none(),
        required=False,
        empty_label=_("The main stream"),
        error_messages={"invalid_choice": _("Choose one of this edition's channels.")},
    )

    def __init__(self, *args: Any, edition: Edition, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["channel"]
        field.queryset = StreamChannel.objects.filter(  # type: ignore[attr-defined]
            edition=edition, is_main=False
        ).order_by("position", "language")


class TicketsForm(forms.Form):
    uses_tickets = forms.BooleanField(
        label=_("Check tickets at the site's gates instead of reporting counts"), required=False
    )
