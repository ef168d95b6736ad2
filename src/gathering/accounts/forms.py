"""Forms of staff sign-in."""

from __future__ import annotations

import unicodedata
from typing import Any

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gathering.accounts import throttle, totp
from gathering.accounts.errors import LockedOutError
from gathering.accounts.models import KEY_NAME_CHARS

# Longer than any code (a recovery code with separators is 11 characters): the rest is noise.
CODE_CHARS = 64


class StaffAuthenticationForm(AdminAuthenticationForm):
    """The password step, with lock-out: while the typed account name or the client's
    address is locked, the password is not even checked and the answer is the same whether
    or not the account exists (``throttle``). A failure counts against both."""

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password or self.request is None:
            return super().clean()
        if throttle.is_locked(self.request, username=username):
            raise ValidationError(LockedOutError.default_message, code="locked")
        try:
            return super().clean()
        except ValidationError:
            if throttle.record_failure(self.request, username=username, stage="password"):
                raise ValidationError(LockedOutError.default_message, code="locked") from None
            raise


def _code_widget(*, numeric: bool) -> forms.TextInput:
    return forms.TextInput(
        attrs={
            "autocomplete": "one-time-code",
            "inputmode": "numeric" if numeric else "text",
            "autocapitalize": "off",
            "spellcheck": "false",
            "autofocus": True,
            "dir": "ltr",
        }
    )


class SecondFactorCodeForm(forms.Form):
    """A code from the authenticator app, or a recovery code (told apart by their shape)."""

    code = forms.CharField(
        label=_("Code from your authenticator app, or a recovery code"),
        max_length=CODE_CHARS,
        widget=_code_widget(numeric=False),
    )


class TotpConfirmForm(forms.Form):
    """The first code of a new authenticator app: 6 digits, in any script's digits."""

    code = forms.CharField(
        label=_("The 6-digit code your app shows"),
        max_length=CODE_CHARS,
        widget=_code_widget(numeric=True),
    )

    def clean_code(self) -> str:
        code = totp.normalise_digits(self.cleaned_data["code"])
        if len(code) != totp.DIGITS or not code.isascii() or not code.isdigit():
            raise ValidationError(_("Enter the 6 digits your app shows."), code="format")
        return code


class SecurityKeyNameForm(forms.Form):
    name = forms.CharField(
        label=_("Name of the key"),
        max_length=KEY_NAME_CHARS,
        help_text=_("So that you can tell your keys apart, such as “blue key” or “laptop”."),
    )

    def clean_name(self) -> str:
        name = unicodedata.normalize("NFC", self.cleaned_data["name"])
        # Zero-width (non-)joiners are part of Persian spelling; other format characters
        # (direction overrides above all) would make a name look like another.
        if any(
            unicodedata.category(char) in {"Cc", "Co", "Cs"}
            or (unicodedata.category(char) == "Cf" and char not in "\u200c\u200d")
            for char in name
        ):
            raise ValidationError(
                _("The name cannot contain control or invisible characters."), code="control"
            )
        return name
