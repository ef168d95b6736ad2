from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import get_language

from gathering.core.dates import localize_digits

register = template.Library()

# Group separators as the browsers' Intl.NumberFormat writes them, so that a figure looks the
# same before and after live.js updates it: "12,345", "12 345" (narrow no-break space),
# "۱۲٬۳۴۵" (Arabic thousands separator).
GROUP_SEPARATORS = {"en": ",", "fr": "\u202f", "fa": "\u066c"}


def format_count(value: int, language: str | None) -> str:
    """A whole number with the language's digits and thousands separators."""
    grouped = f"{int(value):,}".replace(",", GROUP_SEPARATORS.get(language or "en", ","))
    return localize_digits(grouped, language)


@register.filter
def count(value: Any) -> str:
    try:
        return format_count(int(value), get_language())
    except (TypeError, ValueError):
        return ""
