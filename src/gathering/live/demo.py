# ruff: noqa: RUF001  (Persian texts: their letters are not look-alikes of Latin ones)
"""Demo content of the live app: announcements of the planned demo edition."""

from __future__ import annotations

from django.db import transaction

from gathering.live.models import Announcement
from gathering.program.models import Edition

ANNOUNCEMENTS = [
    (
        Announcement.Level.INFO,
        {
            "en": "Doors open at 10:00. Delegations: please keep your coach number at hand.",
            "fa": "درها ساعت ۱۰ باز می‌شوند. هیئت‌ها لطفاً شمارهٔ اتوبوس خود را همراه داشته باشند.",
            "fr": "Ouverture des portes à 10 h. Délégations : gardez votre numéro de car à portée de main.",
        },
    ),
    (
        Announcement.Level.IMPORTANT,
        {
            "en": "Interpretation: choose your language's channel on the live page.",
            "fa": "ترجمهٔ همزمان: کانال زبان خود را در صفحهٔ زنده انتخاب کنید.",
            "fr": "Interprétation : choisissez le canal de votre langue sur la page en direct.",
        },
    ),
]


@transaction.atomic
def load_live_demo() -> int:
    """Post the demo announcements once on the planned edition; returns how many were made."""
    edition = Edition.objects.filter(status=Edition.Status.PLANNED).order_by("year").first()
    if edition is None or Announcement.objects.filter(edition=edition).exists():
        return 0
    for level, text in ANNOUNCEMENTS:
        Announcement.objects.create(edition=edition, level=level, text=text)
    return len(ANNOUNCEMENTS)
