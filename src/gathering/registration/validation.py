"""Checks shared by the forms and the services (the services check again whatever calls them).

Names and answers refuse control characters and the Unicode controls that reorder text
(U+202A-U+202E, U+2066-U+2069): a name printed on a badge or shown to staff must read as typed.
The joiners that Persian needs (ZWNJ U+200C, ZWJ U+200D) and the marks LRM/RLM are allowed.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext_lazy as _

from gathering.registration.countries import is_country_code
from gathering.registration.models import Question

NAME_MAX_LENGTH = 200
EMAIL_MAX_LENGTH = 254
PHONE_MAX_LENGTH = 40
ANSWER_MAX_LENGTH = 1000
CITY_MAX_LENGTH = 100
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_PHONE = re.compile(r"\+?[0-9 ().\-/]+")


def check_characters(value: str, *, allow_newlines: bool = False) -> None:
    for character in value:
        if character in _BIDI_CONTROLS:
            raise ValidationError(
                _("Remove the invisible characters that change the direction of text."),
                code="bidi_control",
            )
        if allow_newlines and character in "\n\r":
            continue
        if unicodedata.category(character) == "Cc":
            raise ValidationError(_("Remove the control characters."), code="control_character")


def clean_name(value: str) -> str:
    """A name as the person wants it printed: NFC, spaces collapsed, at most 200 characters."""
    # Runs of spaces (and line breaks pasted in) become one space.
    name = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not name:
        raise ValidationError(_("Enter your name."), code="required")
    if len(name) > NAME_MAX_LENGTH:
        raise ValidationError(
            _("Enter at most %(max)s characters."),
            code="max_length",
            params={"max": NAME_MAX_LENGTH},
        )
    check_characters(name)
    if "<" in name or ">" in name:
        raise ValidationError(_("A name cannot contain < or >."), code="angle_bracket")
    if not any(unicodedata.category(character).startswith("L") for character in name):
        raise ValidationError(_("A name needs at least one letter."), code="no_letter")
    return name


def clean_email(value: str) -> str:
    email = unicodedata.normalize("NFC", value or "").strip()
    if not email:
        raise ValidationError(_("Enter your email address."), code="required")
    if len(email) > EMAIL_MAX_LENGTH:
        raise ValidationError(_("This email address is too long."), code="max_length")
    check_characters(email)
    validate_email(email)
    return email


def clean_phone(value: str) -> str:
    phone = (value or "").strip()
    if not phone:
        return ""
    digits = sum(character.isdigit() for character in phone)
    if (
        len(phone) > PHONE_MAX_LENGTH
        or not phone.isascii()
        or not _PHONE.fullmatch(phone)
        or not 6 <= digits <= 20
    ):
        raise ValidationError(
            _("Enter a phone number with its country code, such as +33 1 23 45 67 89."),
            code="invalid_phone",
        )
    return phone


def clean_language(value: str) -> str:
    if value not in {code for code, _name in settings.LANGUAGES}:
        raise ValidationError(_("Choose one of the languages offered."), code="invalid_language")
    return value


def clean_country(value: str) -> str:
    code = (value or "").strip().upper()
    if not is_country_code(code):
        raise ValidationError(_("Choose a country from the list."), code="invalid_country")
    return code


def clean_city(value: str) -> str:
    city = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not city:
        raise ValidationError(_("Enter the city of departure."), code="required")
    if len(city) > CITY_MAX_LENGTH:
        raise ValidationError(
            _("Enter at most %(max)s characters."),
            code="max_length",
            params={"max": CITY_MAX_LENGTH},
        )
    check_characters(city)
    if "<" in city or ">" in city:
        raise ValidationError(_("A city cannot contain < or >."), code="angle_bracket")
    return city


def clean_text_answer(value: str) -> str:
    text = unicodedata.normalize("NFC", value or "").strip()
    if len(text) > ANSWER_MAX_LENGTH:
        raise ValidationError(
            _("Enter at most %(max)s characters."),
            code="max_length",
            params={"max": ANSWER_MAX_LENGTH},
        )
    check_characters(text, allow_newlines=True)
    return text


def clean_answers(questions: list[Question], answers: dict[str, Any]) -> dict[str, Any]:
    """Answers keyed by question key, checked against the questions; unknown keys refused.

    Text answers are strings, choice answers a choice value, yes/no answers booleans.
    Unanswered optional questions are left out. Raises ValidationError keyed by question key.
    """
    known = {question.key: question for question in questions}
    errors: dict[str, Any] = {}
    unknown = set(answers) - set(known)
    if unknown:
        raise ValidationError(_("Answers to unknown questions were given."), code="unknown")
    cleaned: dict[str, Any] = {}
    for key, question in known.items():
        value = answers.get(key)
        try:
            if question.kind == Question.Kind.YES_NO:
                if value is None or value == "":
                    if question.required:
                        raise ValidationError(_("Please answer yes or no."), code="required")
                    continue
                if not isinstance(value, bool):
                    raise ValidationError(_("Please answer yes or no."), code="invalid")
                cleaned[key] = value
            elif question.kind == Question.Kind.CHOICE:
                if value in (None, ""):
                    if question.required:
                        raise ValidationError(_("Please choose an answer."), code="required")
                    continue
                if value not in question.choice_values():
                    raise ValidationError(_("Choose one of the answers offered."), code="invalid")
                cleaned[key] = value
            else:
                text = clean_text_answer(value if isinstance(value, str) else "")
                if value is not None and not isinstance(value, str):
                    raise ValidationError(_("Please answer with text."), code="invalid")
                if not text:
                    if question.required:
                        raise ValidationError(_("Please answer this question."), code="required")
                    continue
                cleaned[key] = text
        except ValidationError as error:
            errors[key] = error
    if errors:
        raise ValidationError(errors)
    return cleaned
