"""ISO 3166-1 countries with their names in the visitor's language (pycountry's translations)."""

from __future__ import annotations

import functools
import gettext

import pycountry
from django.utils.translation import get_language

CODES: frozenset[str] = frozenset(country.alpha_2 for country in pycountry.countries)


@functools.cache
def _translation(language: str) -> gettext.NullTranslations:
    if language == "en":
        return gettext.NullTranslations()
    return gettext.translation(
        "iso3166-1", pycountry.LOCALES_DIR, languages=[language], fallback=True
    )


def _english_name(code: str) -> str:
    country = pycountry.countries.get(alpha_2=code)
    if country is None:
        return code
    # common_name ("Iran") reads better than the official name ("Iran, Islamic Republic of").
    return str(getattr(country, "common_name", None) or country.name)


# Names people of the diaspora use, where pycountry's differ (or lack a translation).
NAME_OVERRIDES: dict[str, dict[str, str]] = {
    "IR": {"en": "Iran", "fa": "ایران", "fr": "Iran"},
    "TR": {"en": "Türkiye", "fa": "ترکیه", "fr": "Turquie"},
}


def country_name(code: str, language: str | None = None) -> str:
    """The country's name in ``language`` (default: the active one); the code if unknown."""
    code = (code or "").upper()
    if code not in CODES:
        return code
    language = (language or get_language() or "en").split("-")[0]
    if override := NAME_OVERRIDES.get(code, {}).get(language):
        return override
    english = _english_name(code)
    translated = _translation(language).gettext(english)
    if translated == english:
        country = pycountry.countries.get(alpha_2=code)
        translated = _translation(language).gettext(country.name) if country else english
    return translated


@functools.cache
def _choices(language: str) -> tuple[tuple[str, str], ...]:
    names = [(code, country_name(code, language)) for code in CODES]
    return tuple(sorted(names, key=lambda item: item[1].casefold()))


def country_choices(language: str | None = None) -> list[tuple[str, str]]:
    """(code, name) for every country, sorted by name in ``language``."""
    return list(_choices((language or get_language() or "en").split("-")[0]))


def is_country_code(value: str) -> bool:
    return value in CODES
