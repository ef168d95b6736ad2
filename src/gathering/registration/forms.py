"""Forms of the public registration pages. They validate; services write.

Every text field goes through ``validation.py`` (the services check again). Errors are
gettext_lazy texts, so they show in the visitor's language.
"""

from __future__ import annotations

import re
from typing import Any, cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from gathering.core.translated import resolve
from gathering.privacy.consent_versions import check_shown_version
from gathering.registration import validation
from gathering.registration.consent import consent_text
from gathering.registration.countries import country_choices
from gathering.registration.models import Category, Delegation, Question

QUESTION_PREFIX = "q_"
_TEXT_INPUT = {"dir": "auto", "autocomplete": "off"}


def _language_choices() -> list[tuple[str, str]]:
    native = {"en": "English", "fa": "فارسی", "fr": "Français"}
    return [(code, native.get(code, str(name))) for code, name in settings.LANGUAGES]


def _country_field(label: Any) -> forms.ChoiceField:
    return forms.ChoiceField(
        label=label,
        choices=[("", _("Choose a country")), *country_choices()],
        error_messages={
            "invalid_choice": _("Choose a country from the list."),
            "required": _("Choose a country from the list."),
        },
    )


class PersonFieldsMixin(forms.Form):
    """Name, email, language and country: what every registration asks."""

    name = forms.CharField(
        label=_("Your name, as it should be printed"),
        # The validator gives the precise message; max_length only guards the widget.
        max_length=validation.NAME_MAX_LENGTH,
        widget=forms.TextInput(attrs={**_TEXT_INPUT, "autocomplete": "name"}),
        error_messages={"required": _("Enter your name.")},
        help_text=_("Any name you choose: it appears on your ticket and badge."),
    )
    email = forms.CharField(
        label=_("Email address"),
        max_length=validation.EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"dir": "ltr", "autocomplete": "email"}),
        error_messages={"required": _("Enter your email address.")},
    )
    language = forms.ChoiceField(
        label=_("Language of your emails and ticket"),
        error_messages={"invalid_choice": _("Choose one of the languages offered.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        language = cast(forms.ChoiceField, self.fields["language"])
        language.choices = _language_choices()
        language.initial = (get_language() or settings.LANGUAGE_CODE)[:2]
        self.fields["country"] = _country_field(_("Country of residence"))
        # Keep the natural order: name, email, language, country, then the rest.
        order = ["name", "email", "language", "country"]
        self.order_fields(order + [name for name in self.fields if name not in order])

    def clean_name(self) -> str:
        return validation.clean_name(self.cleaned_data["name"])

    def clean_email(self) -> str:
        return validation.clean_email(self.cleaned_data["email"])

    def clean_country(self) -> str:
        return validation.clean_country(self.cleaned_data["country"])

    def person_fields(self) -> list[forms.BoundField]:
        names = ("name", "email", "language", "country", "phone")
        return [self[name] for name in names if name in self.fields]

    def question_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if name.startswith(QUESTION_PREFIX)]


class RegistrationForm(PersonFieldsMixin):
    """A registration in ``category``: the person, the category's questions, consent."""

    phone = forms.CharField(
        label=_("Phone (optional)"),
        required=False,
        max_length=validation.PHONE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "tel", "type": "tel"}),
        help_text=_("Only to reach you about your registration."),
    )
    consent = forms.BooleanField(
        required=True,
        error_messages={"required": _("Please give your consent to register.")},
    )

    def __init__(self, *args: Any, category: Category, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.category = category
        self.consent_text = consent_text(retention_days=category.edition.retention_days)
        self.fields["consent"].label = self.consent_text.statement
        self.questions = list(category.questions.all())
        for question in self.questions:
            self.fields[QUESTION_PREFIX + question.key] = question_field(question)
        consent = self.fields.pop("consent")
        self.fields["consent"] = consent  # always last, after the questions

    def clean_phone(self) -> str:
        return validation.clean_phone(self.cleaned_data.get("phone", ""))

    def answers(self) -> dict[str, Any]:
        """The answers keyed by question key (only after ``is_valid()``)."""
        answers: dict[str, Any] = {}
        for question in self.questions:
            value = self.cleaned_data.get(QUESTION_PREFIX + question.key)
            if question.kind == Question.Kind.YES_NO:
                if value in ("yes", "no"):
                    answers[question.key] = value == "yes"
            elif value:
                answers[question.key] = value
        return answers

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        check_shown_version(self, version=self.consent_text.version)
        if not self.errors:
            try:
                validation.clean_answers(self.questions, self.answers())
            except ValidationError as error:
                for key, messages in error.message_dict.items():
                    field = QUESTION_PREFIX + key
                    if field in self.fields:
                        self.add_error(field, messages)
                    else:
                        self.add_error(None, messages)
        return cleaned


def _validate_text_answer(value: str) -> None:
    validation.clean_text_answer(value)


def question_field(question: Question) -> forms.Field:
    label = resolve(question.label)
    help_text = resolve(question.help_text)
    if question.kind == Question.Kind.CHOICE:
        choices = [(choice["value"], resolve(choice["label"])) for choice in question.choices]
        return forms.ChoiceField(
            label=label,
            help_text=help_text,
            required=question.required,
            choices=([] if question.required else [("", "—")]) + choices,
            widget=forms.RadioSelect if len(choices) <= 5 else forms.Select,
            error_messages={
                "required": _("Please choose an answer."),
                "invalid_choice": _("Choose one of the answers offered."),
            },
        )
    if question.kind == Question.Kind.YES_NO:
        return forms.ChoiceField(
            label=label,
            help_text=help_text,
            required=question.required,
            choices=[("yes", _("Yes")), ("no", _("No"))],
            widget=forms.RadioSelect,
            error_messages={
                "required": _("Please answer yes or no."),
                "invalid_choice": _("Please answer yes or no."),
            },
        )
    return forms.CharField(
        label=label,
        help_text=help_text,
        required=question.required,
        max_length=validation.ANSWER_MAX_LENGTH,
        widget=forms.Textarea(attrs={**_TEXT_INPUT, "rows": 3}),
        validators=[_validate_text_answer],
        error_messages={"required": _("Please answer this question.")},
    )


class DelegationFieldsMixin(forms.Form):
    city = forms.CharField(
        label=_("City of departure"),
        max_length=validation.CITY_MAX_LENGTH,
        widget=forms.TextInput(attrs=_TEXT_INPUT),
    )
    transport = forms.ChoiceField(
        label=_("Travelling by"),
        choices=Delegation.Transport.choices,
        error_messages={"invalid_choice": _("Choose a means of transport from the list.")},
    )
    expected_size = forms.IntegerField(
        label=_("Expected number of members (you included)"),
        min_value=1,
        max_value=2000,
        error_messages={
            "invalid": _("Enter a whole number."),
            "min_value": _("The expected size must be between 1 and 2000."),
            "max_value": _("The expected size must be between 1 and 2000."),
        },
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["departure_country"] = _country_field(_("Country of departure"))

    def clean_city(self) -> str:
        return validation.clean_city(self.cleaned_data["city"])

    def clean_departure_country(self) -> str:
        return validation.clean_country(self.cleaned_data["departure_country"])

    def delegation_fields(self) -> list[forms.BoundField]:
        names = ("city", "departure_country", "transport", "expected_size")
        return [self[name] for name in names]


class DelegationForm(DelegationFieldsMixin):
    """A registrant who already has a registration starts a delegation."""


class DelegationRegistrationForm(RegistrationForm, DelegationFieldsMixin):
    """A delegation leader registers and creates the delegation in one go."""


class MemberAddForm(PersonFieldsMixin):
    """The leader adds a member, who then confirms and consents by email."""


class DetailsForm(forms.Form):
    name = PersonFieldsMixin.base_fields["name"]
    language = forms.ChoiceField(
        label=_("Language of your emails and ticket"),
        error_messages={"invalid_choice": _("Choose one of the languages offered.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["language"]).choices = _language_choices()

    def clean_name(self) -> str:
        return validation.clean_name(self.cleaned_data["name"])


class ConsentForm(forms.Form):
    """Confirming an email; asks for consent when the person has not given it yet."""

    consent = forms.BooleanField(
        required=True,
        error_messages={"required": _("Please give your consent to register.")},
    )

    def __init__(self, *args: Any, needs_consent: bool, retention_days: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.consent_text = consent_text(retention_days=retention_days)
        if needs_consent:
            self.fields["consent"].label = self.consent_text.statement
        else:
            del self.fields["consent"]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        check_shown_version(self, version=self.consent_text.version)
        return cleaned


class LinkResendForm(forms.Form):
    email = forms.CharField(
        label=_("Email address"),
        max_length=validation.EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"dir": "ltr", "autocomplete": "email"}),
        error_messages={"required": _("Enter your email address.")},
    )

    def clean_email(self) -> str:
        return validation.clean_email(self.cleaned_data["email"])


class ConfirmActionForm(forms.Form):
    """A tick box for actions that cannot be undone (cancel, erase)."""

    sure = forms.BooleanField(
        required=True,
        error_messages={"required": _("Tick the box to confirm.")},
    )


# --- staff: the registration desk ------------------------------------------------------------

_TICKET_ID = re.compile(r"[0-9a-fA-F]{16}")
_NUMBER = re.compile(r"#?([1-9][0-9]{0,17})")


class DeskSearchForm(forms.Form):
    """One look-up: a code (ticket id, scanned ticket code, registration number or email
    address) or a whole name, with the edition for an email or a name."""

    code = forms.CharField(
        label=_("Ticket code, registration number or email address"),
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"dir": "ltr", "autocomplete": "off", "spellcheck": "false"}),
    )
    name = forms.CharField(
        label=_("Whole name, as registered"),
        max_length=validation.NAME_MAX_LENGTH,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )
    edition = forms.TypedChoiceField(
        label=_("Edition"), coerce=int, required=False, empty_value=None
    )

    def __init__(self, *args: Any, editions: list[tuple[Any, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = cast(forms.TypedChoiceField, self.fields["edition"])
        field.choices = editions
        field.error_messages["invalid_choice"] = _("Choose an edition from the list.")

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        code = " ".join(str(data.get("code") or "").split())
        name = " ".join(str(data.get("name") or "").split())
        if "\x00" in code or "\x00" in name:
            raise ValidationError(_("This text holds characters not allowed."))
        if bool(code) == bool(name):
            raise ValidationError(_("Enter either a code or a name (not both)."))
        lookup: dict[str, Any] = {}
        if code:
            from gathering.registration.ticket_codes import MalformedTicketError, decode_ticket

            number = _NUMBER.fullmatch(code)
            if _TICKET_ID.fullmatch(code):
                lookup["ticket_id"] = code.lower()
            elif code.upper().startswith("GT1:"):
                try:
                    claims, *_rest = decode_ticket(code.upper())
                except MalformedTicketError:
                    raise ValidationError(
                        {"code": _("This ticket code is not valid: scan or type it again.")}
                    ) from None
                lookup["ticket_id"] = claims.ticket_id.hex()
            elif number:
                lookup["number"] = int(number.group(1))
            elif "@" in code:
                try:
                    lookup["email"] = validation.clean_email(code)
                except ValidationError:
                    raise ValidationError({"code": _("Enter a whole email address.")}) from None
            else:
                raise ValidationError(
                    {
                        "code": _(
                            "Enter a ticket code (16 characters), a registration number or a "
                            "whole email address."
                        )
                    }
                )
        else:
            if len(name) < 2:
                raise ValidationError({"name": _("Enter the whole name.")})
            lookup["name"] = name
        if ("email" in lookup or "name" in lookup) and data.get("edition") is None:
            raise ValidationError({"edition": _("Choose the edition to look in.")})
        data["lookup"] = lookup
        return data


class StaffActionForm(forms.Form):
    """An action on one registration from the desk or press pages."""

    action = forms.ChoiceField(
        choices=[("send", "send"), ("cancel", "cancel")],
        error_messages={
            "required": _("This form is not known. Reload the page and try again."),
            "invalid_choice": _("This form is not known. Reload the page and try again."),
        },
    )
    sure = forms.BooleanField(required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("action") == "cancel" and not data.get("sure"):
            raise ValidationError(_("Tick the box to confirm the cancellation."))
        return data
