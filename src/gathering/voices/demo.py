# ruff: noqa: RUF001  (Persian and French texts: their letters are not look-alikes of Latin ones)
"""Demo campaigns for the planned edition of the demo: a statement, a petition and a message wall.

No signatures (they would be personal data); the endorsements are placeholders, not real people.
"""

from __future__ import annotations

import datetime as dt

from django.db import transaction
from django.utils.timezone import now

from gathering.core.translated import Translated
from gathering.program.models import Edition
from gathering.voices.models import Campaign, Endorsement


def _texts(en: str, fa: str, fr: str) -> Translated:
    return Translated({"en": en, "fa": fa, "fr": fr})


CAMPAIGNS = [
    (
        "statement",
        Campaign.Kind.STATEMENT,
        100_000,
        _texts("Statement of support", "بیانیهٔ حمایت", "Déclaration de soutien"),
        _texts(
            "We, the undersigned, support the people’s call for a free, democratic and secular "
            "republic, with equal rights for women and men and for every nationality.",
            "ما امضاکنندگان از خواست مردم برای جمهوری‌ای آزاد، دموکراتیک و سکولار، با حقوق برابر "
            "برای زنان و مردان و همهٔ ملیت‌ها، پشتیبانی می‌کنیم.",
            "Nous, soussignés, soutenons l’appel du peuple à une république libre, démocratique "
            "et laïque, avec l’égalité des droits entre femmes et hommes et pour toutes les "
            "nationalités.",
        ),
        _texts("", "", ""),
    ),
    (
        "petition",
        Campaign.Kind.PETITION,
        50_000,
        _texts("Petition to the parliaments of Europe", "دادخواست به پارلمان‌های اروپا",
               "Pétition aux parlements d’Europe"),
        _texts(
            "We ask the parliaments of Europe to stand with the people’s democratic movement and "
            "to protect the diaspora from transnational repression.",
            "ما از پارلمان‌های اروپا می‌خواهیم در کنار جنبش دموکراتیک مردم بایستند و از دیاسپورا "
            "در برابر سرکوب فراملی محافظت کنند.",
            "Nous demandons aux parlements d’Europe de soutenir le mouvement démocratique du "
            "peuple et de protéger la diaspora contre la répression transnationale.",
        ),
        _texts("The parliaments of Europe", "پارلمان‌های اروپا", "Les parlements d’Europe"),
    ),
]  # fmt: skip

ENDORSEMENTS = [
    ("Example Endorser A", _texts("Member of a parliament", "نمایندهٔ پارلمان", "Membre d’un parlement"), "FR"),
    ("Example Endorser B", _texts("Mayor", "شهردار", "Maire"), "DE"),
    ("Example Endorser C", _texts("Former minister", "وزیر پیشین", "Ancien ministre"), "IT"),
]  # fmt: skip


@transaction.atomic
def load_voices_demo() -> int:
    """Create the campaigns of the planned demo edition once; returns how many were created."""
    edition = Edition.objects.filter(status=Edition.Status.PLANNED).order_by("year").first()
    if edition is None:
        return 0
    opens = min(now(), dt.datetime(edition.year - 1, 11, 1, tzinfo=edition.tzinfo))
    closes = dt.datetime.combine(
        edition.end_date + dt.timedelta(days=7), dt.time.min, tzinfo=edition.tzinfo
    )
    created = 0
    for position, (slug, kind, goal, title, text, addressee) in enumerate(CAMPAIGNS):
        campaign, was_created = Campaign.objects.get_or_create(
            edition=edition,
            slug=slug,
            defaults={
                "kind": kind,
                "goal": goal,
                "title": title,
                "text": text,
                "addressee": addressee,
                "opens_at": opens,
                "closes_at": closes,
                "position": position,
            },
        )
        created += was_created
        if was_created and slug == "statement":
            for order, (name, title_texts, country) in enumerate(ENDORSEMENTS):
                Endorsement.objects.create(
                    campaign=campaign,
                    name=name,
                    title=title_texts,
                    country=country,
                    verified_at=now(),
                    position=order,
                )
    return created
