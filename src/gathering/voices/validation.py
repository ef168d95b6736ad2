"""Checks shared by the sign form and the services (the services check again).

Names, cities and messages may be in any script; what is refused is what would make a shown
text lie about itself: control characters, the Unicode controls that reorder text, markup, and
zero-width characters other than the joiners Persian needs (ZWNJ, ZWJ).
"""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gathering.registration import validation as registration_validation

MESSAGE_MAX_LENGTH = 500
REASON_MAX_LENGTH = 300
CITY_MAX_LENGTH = registration_validation.CITY_MAX_LENGTH
NAME_MAX_LENGTH = registration_validation.NAME_MAX_LENGTH
EMAIL_MAX_LENGTH = registration_validation.EMAIL_MAX_LENGTH
# Invisible characters with no place in a shown name or message (ZWNJ/ZWJ are allowed).
_INVISIBLE = frozenset("\u200b\u2060\ufeff\u180e\u00ad")

clean_email = registration_validation.clean_email
clean_country = registration_validation.clean_country
clean_language = registration_validation.clean_language


def _check_invisible(value: str) -> None:
    if any(character in _INVISIBLE for character in value):
        raise ValidationError(_("Remove the invisible characters."), code="invisible_character")


def clean_name(value: str) -> str:
    """Optional: the name as it may be shown ("" when not given)."""
    if not (value or "").strip():
        return ""
    name = registration_validation.clean_name(value)
    _check_invisible(name)
    return name


def clean_city(value: str) -> str:
    city = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not city:
        return ""
    if len(city) > CITY_MAX_LENGTH:
        raise ValidationError(
            _("Enter at most %(max)s characters."),
            code="max_length",
            params={"max": CITY_MAX_LENGTH},
        )
    registration_validation.check_characters(city)
    _check_invisible(city)
    if "<" in city or ">" in city:
        raise ValidationError(_("A city cannot contain < or >."), code="angle_bracket")
    return city


def clean_message(value: str) -> str:
    """Optional: a short message of solidarity, at most 500 characters (line breaks kept)."""
    text = unicodedata.normalize("NFC", (value or "").replace("\r\n", "\n")).strip()
    if not text:
        return ""
    if len(text) > MESSAGE_MAX_LENGTH:
        raise ValidationError(
            _("Enter at most %(max)s characters."),
            code="max_length",
            params={"max": MESSAGE_MAX_LENGTH},
        )
    registration_validation.check_characters(text, allow_newlines=True)
    _check_invisible(text)
    return text


def clean_reason(value: str) -> str:
    reason = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not reason:
        raise ValidationError(_("Give the reason: it is published."), code="required")
    if len(reason) > REASON_MAX_LENGTH:
        raise ValidationError(
            _("Enter at most %(max)s characters."),
            code="max_length",
            params={"max": REASON_MAX_LENGTH},
        )
    registration_validation.check_characters(reason)
    return reason
