"""Badges for press, guests and volunteers, printed in bulk from the back office.

A badge shows the name as the person chose it, their category and the edition in their own
language (Persian badges run right to left), their affiliation when their category asks for one
(a question keyed "outlet" or "affiliation"), and the same signed QR code as their ticket, so the
badge opens the gate too. The layout is ``pdf.render_badges_pdf``'s.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Literal

from gathering.core.translated import resolve
from gathering.registration.models import Question, Registration
from gathering.registration.pdf import BadgeDocument, render_badges_pdf
from gathering.registration.ticket_codes import CategoryCode
from gathering.registration.tickets import ticket_code

BadgeLayout = Literal["a6", "labels"]
BADGE_LAYOUTS: tuple[BadgeLayout, ...] = ("a6", "labels")

# Words in a question's key that make its answer the affiliation printed under the name
# ("outlet", "media-outlet", "affiliation", "organisation").
AFFILIATION_WORDS = frozenset({"outlet", "affiliation", "organisation", "organization"})


def _is_affiliation(question: Question) -> bool:
    return question.kind != Question.Kind.YES_NO and bool(
        AFFILIATION_WORDS & set(re.split(r"[-_]", question.key.lower()))
    )


def affiliation(registration: Registration) -> str:
    """The answer to the first affiliation question of the registration's category, in the
    registrant's language for a choice question; "" when there is none or it is unanswered.

    Reads ``registration.category.questions.all()`` (prefetched by the selector)."""
    answers: dict[str, Any] = registration.answers or {}
    edition = registration.edition
    for question in registration.category.questions.all():
        if not _is_affiliation(question):
            continue
        answer = answers.get(question.key)
        if not isinstance(answer, str) or not answer.strip():
            continue
        if question.kind == Question.Kind.CHOICE:
            for choice in question.choices or []:
                if choice.get("value") == answer:
                    return resolve(
                        choice.get("label"), registration.language, edition.default_language
                    )
            continue  # a choice removed since: nothing sensible to print
        return answer.strip()
    return ""


def badge_document(registration: Registration) -> BadgeDocument:
    """What the badge of ``registration`` (confirmed, with a ticket) shows, in its language.

    Raises ``Ticket.DoesNotExist`` (through the relation) for a registration without a ticket."""
    language = registration.language
    edition = registration.edition
    category = registration.category
    ticket = registration.ticket
    return BadgeDocument(
        qr_text=ticket_code(ticket),
        name=registration.name or "",
        role_label=resolve(category.name, language, edition.default_language),
        category=CategoryCode(ticket.category_code),
        edition_title=resolve(edition.title, language, edition.default_language),
        language=language,
        affiliation=affiliation(registration),
    )


def badges_pdf(*, registrations: Iterable[Registration], layout: BadgeLayout) -> bytes:
    """One PDF with the badges of ``registrations`` (see ``selectors.list_badge_registrations``),
    by category and then by name, so badges can be handed out in order.

    Raises ValueError when there is nothing to print or the layout is unknown."""
    ordered = sorted(
        registrations,
        key=lambda r: (
            r.edition.year,
            r.category.position,
            r.category.slug,
            (r.name or "").casefold(),
            r.pk,
        ),
    )
    return render_badges_pdf([badge_document(r) for r in ordered], layout=layout)
