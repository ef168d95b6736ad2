"""Dates for people: Persian digits and Solar Hijri (Jalali) dates beside Gregorian ones."""

from __future__ import annotations

import datetime as dt

import jdatetime

PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
LATIN_DIGITS = str.maketrans("۰۱۲۳۴۵۶۷۸۹٠١٢٣٤٥٦٧٨٩", "01234567890123456789")

# Solar Hijri month names as Iranians write them (Farvardin … Esfand).
JALALI_MONTHS_FA = (
    "فروردین",
    "اردیبهشت",
    "خرداد",
    "تیر",
    "مرداد",
    "شهریور",
    "مهر",
    "آبان",
    "آذر",
    "دی",
    "بهمن",
    "اسفند",
)
JALALI_MONTHS_LATIN = (
    "Farvardin",
    "Ordibehesht",
    "Khordad",
    "Tir",
    "Mordad",
    "Shahrivar",
    "Mehr",
    "Aban",
    "Azar",
    "Dey",
    "Bahman",
    "Esfand",
)


def to_persian_digits(text: str) -> str:
    return text.translate(PERSIAN_DIGITS)


def to_latin_digits(text: str) -> str:
    return text.translate(LATIN_DIGITS)


def localize_digits(text: str, language: str | None) -> str:
    return to_persian_digits(text) if language == "fa" else text


def jalali_parts(value: dt.date) -> tuple[int, int, int]:
    """(year, month, day) of ``value`` in the Solar Hijri calendar."""
    if isinstance(value, dt.datetime):
        value = value.date()
    jalali = jdatetime.date.fromgregorian(date=value)
    return jalali.year, jalali.month, jalali.day


def format_jalali(value: dt.date, language: str | None) -> str:
    """``value`` as a Solar Hijri date: "۹ تیر ۱۳۹۷" in Persian, "9 Tir 1397" otherwise."""
    year, month, day = jalali_parts(value)
    if language == "fa":
        return to_persian_digits(f"{day} {JALALI_MONTHS_FA[month - 1]} {year}")
    return f"{day} {JALALI_MONTHS_LATIN[month - 1]} {year}"
