# ruff: noqa: RUF001  (Persian and French texts: their letters are not look-alikes of Latin ones)
"""Demo registration categories for the planned edition of the demo (no people: no PII)."""

from __future__ import annotations

import datetime as dt

from django.db import transaction

from gathering.core.translated import Translated
from gathering.program.models import Edition
from gathering.registration.models import Category, Question

# (slug, kind, capacity, public, names en/fa/fr, gate en/fa/fr)
CATEGORIES = [
    ("attendee", Category.Kind.ATTENDEE, 40_000, True,
     ("Attendee", "شرکت‌کننده", "Participant"), ("Gate A", "ورودی الف", "Porte A")),
    ("delegation", Category.Kind.DELEGATION_MEMBER, 30_000, False,
     ("Delegation member", "عضو هیئت", "Membre d’une délégation"), ("Gate C", "ورودی ج", "Porte C")),
    ("press", Category.Kind.PRESS, 400, True,
     ("Press", "خبرنگار", "Presse"), ("Press entrance", "ورودی رسانه‌ها", "Entrée presse")),
    ("guest", Category.Kind.GUEST, 300, False,
     ("Guest of honour", "مهمان ویژه", "Invité d’honneur"), ("Gate B", "ورودی ب", "Porte B")),
    ("volunteer", Category.Kind.VOLUNTEER, 1_500, True,
     ("Volunteer", "داوطلب", "Bénévole"), ("Staff entrance", "ورودی کارکنان", "Entrée du personnel")),
]  # fmt: skip


def _texts(values: tuple[str, str, str]) -> Translated:
    return Translated(zip(("en", "fa", "fr"), values, strict=True))


@transaction.atomic
def load_registration_demo() -> int:
    """Create the categories of the planned demo edition once; returns how many were created."""
    edition = Edition.objects.filter(status=Edition.Status.PLANNED).order_by("year").first()
    if edition is None:
        return 0
    opens = dt.datetime(edition.year - 1, 11, 1, tzinfo=edition.tzinfo)
    closes = dt.datetime.combine(edition.start_date, dt.time.min, tzinfo=edition.tzinfo)
    created = 0
    for position, (slug, kind, capacity, public, names, gate) in enumerate(CATEGORIES):
        category, was_created = Category.objects.get_or_create(
            edition=edition,
            slug=slug,
            defaults={
                "kind": kind,
                "name": _texts(names),
                "capacity": capacity,
                "opens_at": opens,
                "closes_at": closes,
                "is_public": public,
                "gate": _texts(gate),
                "position": position,
            },
        )
        created += was_created
        if was_created and kind == Category.Kind.PRESS:
            Question.objects.create(
                category=category,
                key="outlet",
                kind=Question.Kind.TEXT,
                label=_texts(("Media outlet", "رسانه", "Média")),
                required=True,
            )
    return created
