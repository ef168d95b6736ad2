"""Forms of "add your voice". They validate; services write (and check again)."""

from __future__ import annotations

import copy
import functools
from typing import Any

from django import forms
from django.conf import settings
from django.utils import translation
from django.utils.choices import normalize_choices
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from gathering.abuse.honeypot import HoneypotField
from gathering.privacy.consent_versions import check_shown_version
from gathering.registration.countries import country_choices
from gathering.registration.forms import _language_choices
from gathering.voices import validation
from gathering.voices.consent import consent_text
from gathering.voices.models import Campaign, Invalidation
from gathering.voices.services import ABUSE_WINDOW, CONFIRMATION_WINDOW, SignRequest

_TEXT_INPUT = {"dir": "auto", "autocomplete": "off"}


@functools.lru_cache(maxsize=8)
def _countries(language: str) -> list[tuple[str, str]]:
    with translation.override(language):
        return normalize_choices([("", str(_("Choose a country"))), *country_choices()])  # type: ignore[no-any-return]


@functools.lru_cache(maxsize=1)
def _languages() -> list[tuple[str, str]]:
    return normalize_choices(_language_choices())  # type: ignore[no-any-return]


class _ListedChoiceField(forms.ChoiceField):
    """A choice field whose (flat) choices are checked in a set, not by walking the list of
    250 countries on each signature."""

    values: frozenset[str] = frozenset()

    def valid_value(self, value: Any) -> bool:
        return str(value) in self.values


def _set_choices(field: forms.Field, choices: list[tuple[str, str]]) -> None:
    # What ChoiceField.choices = ... does, minus normalising the 250 countries again on every
    # request (the lists above are normalised once per language and process).
    field._choices = choices  # type: ignore[attr-defined]
    field.widget._choices = choices  # the widget's setter would normalise them again
    if isinstance(field, _ListedChoiceField):
        field.values = frozenset(str(value) for value, _label in choices)


class SignForm(forms.Form):
    """The sign form of ``campaign``: only the fields the campaign asks for."""

    name = forms.CharField(
        label=_("Your name, as it may be shown (optional)"),
        required=False,
        max_length=validation.NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={**_TEXT_INPUT, "autocomplete": "name"}),
    )
    show_name = forms.BooleanField(
        label=_("Show my name among the signatories"), required=False, initial=False
    )
    email = forms.CharField(
        label=_("Email address"),
        max_length=validation.EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"dir": "ltr", "autocomplete": "email"}),
        error_messages={"required": _("Enter your email address.")},
        help_text=_("We email you a link to confirm your signature."),
    )
    country = _ListedChoiceField(
        label=_("Country where you live"),
        error_messages={
            "invalid_choice": _("Choose a country from the list."),
            "required": _("Choose a country from the list."),
        },
    )
    city = forms.CharField(
        label=_("City (optional)"),
        required=False,
        max_length=validation.CITY_MAX_LENGTH,
        widget=forms.TextInput(attrs=_TEXT_INPUT),
    )
    message = forms.CharField(
        label=_("A message of solidarity (optional)"),
        required=False,
        max_length=validation.MESSAGE_MAX_LENGTH,
        widget=forms.Textarea(attrs={"dir": "auto", "rows": 3}),
        help_text=_("Shown on the wall after moderation, at most 500 characters."),
    )
    language = _ListedChoiceField(
        label=_("Language of your email"),
        error_messages={"invalid_choice": _("Choose one of the languages offered.")},
    )
    # Its label is a consent text (``consent.py``), set below.
    wants_news = forms.BooleanField(required=False)
    consent = forms.BooleanField(
        required=True, error_messages={"required": _("Please give your consent to sign.")}
    )
    website = HoneypotField()
    altcha = forms.CharField(required=False, widget=forms.HiddenInput, max_length=4000)

    def __init__(self, *args: Any, campaign: Campaign, **kwargs: Any) -> None:
        # Django deep-copies every field for every form; the sign form is built on each
        # signature, so its fields are prepared once per language and campaign shape and then
        # shared (never changed after preparing: errors and values live on the form).
        self.base_fields = {}  # type: ignore[misc]  # nothing for Django to copy: see below
        super().__init__(*args, **kwargs)
        self.campaign = campaign
        language = get_language() or settings.LANGUAGE_CODE
        self.consent_text, self.fields = _prepared(
            type(self),
            language,
            retention_days=campaign.edition.retention_days,
            asks=(campaign.asks_name, campaign.asks_city, campaign.asks_message),
        )
        self.fields = dict(self.fields)

    def clean_name(self) -> str:
        return validation.clean_name(self.cleaned_data.get("name", ""))

    def clean_email(self) -> str:
        return validation.clean_email(self.cleaned_data["email"])

    def clean_country(self) -> str:
        return validation.clean_country(self.cleaned_data["country"])

    def clean_city(self) -> str:
        return validation.clean_city(self.cleaned_data.get("city", ""))

    def clean_message(self) -> str:
        return validation.clean_message(self.cleaned_data.get("message", ""))

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        check_shown_version(self, version=self.consent_text.version)
        return cleaned

    def visible_fields_in_order(self) -> list[forms.BoundField]:
        hidden = {"website", "altcha", "consent"}
        return [self[name] for name in self.fields if name not in hidden]

    def sign_request(self, *, client_ip: str) -> SignRequest:
        data = self.cleaned_data
        return SignRequest(
            name=data.get("name", ""),
            show_name=bool(data.get("show_name")),
            email=data["email"],
            country=data["country"],
            city=data.get("city", ""),
            message=data.get("message", ""),
            language=data["language"],
            wants_news=bool(data.get("wants_news")),
            client_ip=client_ip,
            proof_of_work=data.get("altcha") or None,
            honeypot=data.get("website", ""),
            consent=bool(data.get("consent")),
        )


@functools.lru_cache(maxsize=64)
def _prepared(
    form_class: type[SignForm], language: str, *, retention_days: int, asks: tuple[bool, bool, bool]
) -> tuple[Any, dict[str, forms.Field]]:
    """The consent texts and the fields of a sign form in ``language`` for a campaign that asks
    for (name, city, message), made once per process (``SignForm.__init__``)."""
    asks_name, asks_city, asks_message = asks
    with translation.override(language):
        texts = consent_text(
            retention_days=retention_days,
            abuse_days=ABUSE_WINDOW.days,
            confirm_days=CONFIRMATION_WINDOW.days,
        )
        fields = copy.deepcopy(form_class.base_fields)
        fields["consent"].label = texts.statement
        fields["wants_news"].label = texts.news
        _set_choices(fields["country"], _countries(language))
        _set_choices(fields["language"], _languages())
        fields["language"].initial = language[:2]
        if not asks_name:
            del fields["name"], fields["show_name"]
        if not asks_city:
            del fields["city"]
        if not asks_message:
            del fields["message"]
    return texts, fields


class ConfirmForm(forms.Form):
    """A button: a GET of the link changes nothing (mail scanners open links)."""


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason (published)"),
        max_length=validation.REASON_MAX_LENGTH,
        widget=forms.TextInput(attrs={"dir": "auto"}),
    )

    def clean_reason(self) -> str:
        return validation.clean_reason(self.cleaned_data["reason"])


class BulkInvalidationForm(ReasonForm):
    """Invalidate by email domain, by network (keyed hash) or by time window."""

    kind = forms.ChoiceField(
        label=_("Match"),
        choices=[
            (Invalidation.Kind.DOMAIN, _("Email domain")),
            (Invalidation.Kind.PREFIX, _("Network")),
            (Invalidation.Kind.WINDOW, _("Time window")),
        ],
    )
    domain = forms.CharField(label=_("Email domain"), required=False, max_length=253)
    prefix_hash = forms.CharField(label=_("Network (keyed hash)"), required=False, max_length=64)
    start = forms.DateTimeField(label=_("From"), required=False)
    end = forms.DateTimeField(label=_("Until"), required=False)
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        kind = data.get("kind")
        if kind == Invalidation.Kind.DOMAIN and not data.get("domain"):
            self.add_error("domain", _("Enter the email domain."))
        if kind == Invalidation.Kind.PREFIX and not data.get("prefix_hash"):
            self.add_error("prefix_hash", _("Enter the network's hash, as the report shows it."))
        if kind == Invalidation.Kind.WINDOW:
            start, end = data.get("start"), data.get("end")
            if not start or not end:
                self.add_error("start", _("Enter the start and the end of the time window."))
            elif end <= start:
                self.add_error("end", _("The end must come after the start."))
        if data.get("domain"):
            from gathering.voices.canonical import canonical_domain

            data["domain"] = canonical_domain(data["domain"])
        return data
