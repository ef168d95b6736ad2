"""Template helpers of the registration pages."""

from __future__ import annotations

from typing import Any

from django import template

from gathering.core.translated import resolve
from gathering.registration.countries import country_name
from gathering.registration.models import Question

register = template.Library()


@register.filter
def country(code: str) -> str:
    """The country's name in the page's language."""
    return country_name(code) if code else ""


@register.filter
def answer(value: Any, question: Question | str) -> str:
    """An answer as the person saw it: the label of a chosen choice, else the text."""
    if isinstance(question, Question) and question.kind == Question.Kind.CHOICE:
        for choice in question.choices or []:
            if choice.get("value") == value:
                return resolve(choice.get("label")) or str(value)
    return "" if value is None else str(value)
