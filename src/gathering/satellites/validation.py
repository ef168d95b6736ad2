"""Checks shared by the forms and the services of satellite sites (the services check again).

Texts may be in any script; what is refused is what would make a shown text lie about itself:
control characters, the Unicode controls that reorder text, markup in names, and zero-width
characters other than the joiners Persian needs (the same rules as registration and voices).
"""

from __future__ import annotations

import functools
import unicodedata
import zoneinfo

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from gathering.registration import validation as registration_validation
from gathering.satellites.models import EXPECTED_ATTENDANCE_MAX

NAME_MAX_LENGTH = 120
CITY_MAX_LENGTH = 100
VENUE_MAX_LENGTH = 200
NOTE_MAX_LENGTH = 280
CONTACT_NAME_MAX_LENGTH = registration_validation.NAME_MAX_LENGTH
EMAIL_MAX_LENGTH = registration_validation.EMAIL_MAX_LENGTH
# A count above this is no count of people in one place: refused, not held.
COUNT_MAX = 10 * EXPECTED_ATTENDANCE_MAX
# A count above this many times the expected attendance is held for staff review.
ABSURD_FACTOR = 10

clean_email = registration_validation.clean_email
clean_country = registration_validation.clean_country
clean_language = registration_validation.clean_language
clean_contact_name = registration_validation.clean_name
# Invisible characters with no place in a shown text (ZWNJ/ZWJ, which Persian needs, are allowed).
_INVISIBLE = frozenset("\u200b\u2060\ufeff\u180e\u00ad")


def _check_invisible(value: str) -> None:
    if any(character in _INVISIBLE for character in value):
        raise ValidationError(_("Remove the invisible characters."), code="invisible_character")


def _one_line(value: str, *, max_length: int, required_message: str | None) -> str:
    text = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not text:
        if required_message is not None:
            raise ValidationError(required_message, code="required")
        return ""
    if len(text) > max_length:
        raise ValidationError(
            _("Enter at most %(max)s characters."), code="max_length", params={"max": max_length}
        )
    registration_validation.check_characters(text)
    _check_invisible(text)
    if "<" in text or ">" in text:
        raise ValidationError(_("Remove the characters < and >."), code="angle_bracket")
    return text


def clean_site_name(value: str) -> str:
    return _one_line(value, max_length=NAME_MAX_LENGTH, required_message=None)


def clean_city(value: str) -> str:
    return _one_line(
        value, max_length=CITY_MAX_LENGTH, required_message=str(_("Enter the city of the site."))
    )


def clean_venue(value: str) -> str:
    return _one_line(value, max_length=VENUE_MAX_LENGTH, required_message=None)


def clean_note(value: str) -> str:
    """Optional: a short note with a report, one line, at most 280 characters."""
    text = " ".join(unicodedata.normalize("NFC", value or "").split())
    if not text:
        return ""
    if len(text) > NOTE_MAX_LENGTH:
        raise ValidationError(
            _("Enter at most %(max)s characters."),
            code="max_length",
            params={"max": NOTE_MAX_LENGTH},
        )
    registration_validation.check_characters(text)
    _check_invisible(text)
    return text


def clean_expected_attendance(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(_("Enter a whole number."), code="invalid")
    if not 1 <= value <= EXPECTED_ATTENDANCE_MAX:
        raise ValidationError(
            _("Enter a number from 1 to %(max)s."),
            code="out_of_range",
            params={"max": EXPECTED_ATTENDANCE_MAX},
        )
    return value


def clean_count(value: object) -> int:
    """A count of people: a whole number from 0 to :data:`COUNT_MAX`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(_("Enter the number of people as a whole number."), code="invalid")
    if value < 0:
        raise ValidationError(_("A count of people cannot be negative."), code="negative")
    if value > COUNT_MAX:
        raise ValidationError(
            _("This number is too large to be a count of people at one site."), code="too_large"
        )
    return value


@functools.cache
def timezone_names() -> tuple[str, ...]:
    """Time zones people choose from: "Region/City" names and UTC, sorted."""
    names = {
        name
        for name in zoneinfo.available_timezones()
        if "/" in name
        and not name.startswith(("Etc/", "SystemV/", "US/", "posix/", "right/"))
        and name != "localtime"
    }
    return tuple(sorted(names | {"UTC"}))


def clean_timezone(value: str) -> str:
    name = (value or "").strip()
    if name not in timezone_names():
        raise ValidationError(
            _("Choose a time zone from the list, such as Europe/Berlin."), code="invalid_timezone"
        )
    return name
