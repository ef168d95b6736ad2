"""Forms of the staff page of data-subject requests. They validate; services write."""

from __future__ import annotations

from typing import Any, cast

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gathering.privacy.models import REFERENCE_MAX_LENGTH
from gathering.program.models import Edition
from gathering.registration import validation


def _edition_choices() -> list[tuple[str, str]]:
    choices = [("", str(_("Every edition")))]
    choices += [(str(year), str(year)) for year in Edition.objects.values_list("year", flat=True)]
    return choices


class PersonRequestForm(forms.Form):
    """Who the request is about (an email address, an edition or all of them) and where it
    came from (a reference, required: the record says why staff looked)."""

    email = forms.CharField(
        label=_("The person's email address"),
        max_length=validation.EMAIL_MAX_LENGTH,
        widget=forms.EmailInput(attrs={"dir": "ltr", "autocomplete": "off"}),
        error_messages={
            "required": _("Enter the person's email address."),
            "max_length": _("This email address is too long."),
        },
        help_text=_(
            "Compared as signatures compare addresses: capitals, a “+tag” and Gmail's dots do "
            "not matter."
        ),
    )
    edition = forms.ChoiceField(
        label=_("Edition"),
        required=False,
        error_messages={"invalid_choice": _("Choose an edition from the list.")},
    )
    reference = forms.CharField(
        label=_("Reference of the request"),
        max_length=REFERENCE_MAX_LENGTH,
        widget=forms.TextInput(attrs={"dir": "auto", "autocomplete": "off"}),
        error_messages={
            "required": _("Enter the reference of the request."),
            "max_length": _("The reference is too long (at most 120 characters)."),
        },
        help_text=_(
            "Where the request came from, such as “email of 3 May, ticket 42”; not the "
            "person's name or address."
        ),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        cast(forms.ChoiceField, self.fields["edition"]).choices = _edition_choices()

    def clean_email(self) -> str:
        return validation.clean_email(self.cleaned_data["email"])

    def clean_reference(self) -> str:
        text = " ".join(self.cleaned_data["reference"].split())
        if not text:
            raise ValidationError(_("Enter the reference of the request."))
        if "@" in text:
            raise ValidationError(
                _("Enter a reference, not an email address: the record must not hold one.")
            )
        if any(ord(character) < 32 for character in text):
            raise ValidationError(_("The reference holds characters that are not allowed."))
        return text

    def get_edition(self) -> Edition | None:
        """The edition chosen (after ``is_valid()``), or None for every edition."""
        year = self.cleaned_data.get("edition")
        if not year:
            return None
        return Edition.objects.filter(year=int(year)).first()


class PersonEraseForm(PersonRequestForm):
    sure = forms.BooleanField(
        label=_("I have checked that the request comes from this person, and I erase their data"),
        required=True,
        error_messages={"required": _("Tick the box to confirm.")},
    )
