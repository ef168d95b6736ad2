"""Template helpers of the program pages: isolated user text, language names, safe colours."""

from __future__ import annotations

import re
from typing import Any

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language, get_language_info, pgettext

from gathering.core.translated import RTL_LANGUAGES, resolve, resolved_language

register = template.Library()

HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


def _page_language() -> str:
    return (get_language() or "en").split("-")[0]


@register.filter
def bdi(value: Any) -> SafeString:
    """User-entered inline text, escaped and isolated in ``<bdi>`` so that its direction (or a
    stray U+202E override) cannot reorder the text around it. A translated text shown in another
    language than the page's (a fallback) carries that language's ``lang`` and ``dir``."""
    if isinstance(value, dict):
        text = resolve(value)
        language = resolved_language(value)
        if text and language != _page_language():
            direction = "rtl" if language in RTL_LANGUAGES else "ltr"
            return format_html('<bdi lang="{}" dir="{}">{}</bdi>', language, direction, text)
        return format_html("<bdi>{}</bdi>", text)
    return format_html("<bdi>{}</bdi>", "" if value is None else str(value))


@register.filter
def language_name(code: str) -> str:
    """A language's name in the page's language ("Persian", "فارسی"…); the code if unknown."""
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return str(code)


@register.filter
def language_names(codes: Any) -> str:
    """Names of a list of language codes, joined as the page's language joins lists."""
    if not isinstance(codes, list | tuple):
        return ""
    # Translators: between the items of a list, e.g. "English, French" (Persian uses "، ").
    separator = pgettext("list separator", ", ")
    return separator.join(language_name(code) for code in codes if isinstance(code, str))


@register.filter
def safe_colour(value: str) -> str:
    """``value`` when it is a ``#rrggbb`` colour, else "" (never lets markup or CSS through)."""
    return value if isinstance(value, str) and HEX_COLOUR.fullmatch(value) else ""


@register.filter
def web_url(value: str) -> str:
    """``value`` when it is an http(s) address, else "" (no ``javascript:`` links)."""
    if isinstance(value, str) and value.lower().startswith(("https://", "http://")):
        return value
    return ""
