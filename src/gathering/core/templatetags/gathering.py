"""Template helpers for multilingual pages: Persian digits, Solar Hijri dates, text direction."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import template
from django.template.defaultfilters import date as date_filter
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import get_language

from gathering.core.dates import format_jalali, localize_digits
from gathering.core.translated import RTL_LANGUAGES, resolve, resolved_language

register = template.Library()


@register.filter
def digits(value: Any) -> str:
    """The value as text, with Persian digits on Persian pages."""
    return localize_digits(str(value), get_language())


@register.filter
def tr(value: Any, language: str | None = None) -> str:
    """A translated text in the active language (or ``language``), with fallbacks."""
    if isinstance(value, dict):
        return resolve(value, language)
    return "" if value is None else str(value)


@register.filter
def lang_of(value: Any) -> str:
    """The language code a translated text is shown in (for the ``lang`` attribute)."""
    return resolved_language(value) if isinstance(value, dict) else (get_language() or "en")


@register.filter
def dir_of(value: Any) -> str:
    return "rtl" if lang_of(value) in RTL_LANGUAGES else "ltr"


@register.filter
def ldate(value: dt.date | dt.datetime | None, fmt: str = "DATE_FORMAT") -> str:
    """Django's ``date`` filter, then Persian digits on Persian pages."""
    if value is None:
        return ""
    return localize_digits(date_filter(value, fmt), get_language())


@register.filter
def jalali(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = timezone.localtime(value).date()
    return format_jalali(value, get_language())


@register.simple_tag
def date_pair(value: dt.date | dt.datetime | None, fmt: str = "DATE_FORMAT") -> str:
    """A Gregorian date; on Persian pages the Solar Hijri date comes first, Gregorian beside it.

    Renders ``<time datetime="…">`` so machines read the ISO date whatever the language.
    """
    if value is None:
        return ""
    day = timezone.localtime(value).date() if isinstance(value, dt.datetime) else value
    gregorian = ldate(value, fmt)
    if get_language() == "fa":
        return format_html(
            '<time datetime="{}"><span class="date-jalali">{}</span> '
            '<span class="date-gregorian">({})</span></time>',
            day.isoformat(),
            format_jalali(day, "fa"),
            gregorian,
        )
    return format_html('<time datetime="{}">{}</time>', day.isoformat(), gregorian)


@register.filter
def ltime(value: dt.datetime | None) -> str:
    """A time of day (24-hour clock) in the current time zone, Persian digits on Persian pages."""
    if value is None:
        return ""
    return localize_digits(timezone.localtime(value).strftime("%H:%M"), get_language())
