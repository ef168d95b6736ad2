"""Template filters of the privacy pages."""

from __future__ import annotations

from typing import Any

from django import template

from gathering.privacy.selectors import KIND_LABELS, KINDS

register = template.Library()


@register.filter
def kind_counts(counts: Any) -> list[tuple[str, int]]:
    """The non-zero counts of a request's records, labelled and in the usual order (a stored
    request's counts are JSON: anything unexpected in them is left out)."""
    if not isinstance(counts, dict):
        return []
    rows = []
    for kind in KINDS:
        value = counts.get(kind)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            rows.append((str(KIND_LABELS[kind]), value))
    return rows
