"""Writes of the live app: staff post and withdraw announcements.

Each change wakes the live publisher of its edition once the transaction has committed, so
the live page, the wall and every site show it within a second.
"""

from __future__ import annotations

import logging
import unicodedata

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import transaction
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from gathering.core.translated import Translated, clean_translations
from gathering.live import notify
from gathering.live.errors import AnnouncementError
from gathering.live.models import Announcement
from gathering.program.models import Edition

logger = logging.getLogger(__name__)

MAX_LENGTH = 500
# Direction overrides and isolates could flip the text around them on a shared screen; zero
# widths hide text. Line and paragraph separators break layouts. Marks (LRM/RLM) stay: Persian
# with Latin words needs them.
_REFUSED = {
    "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
    "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
    "\u200b", "\u2060", "\ufeff",  # zero-width space, word joiner, BOM
}  # fmt: skip


def _clean_text(texts: Translated) -> Translated:
    cleaned = Translated()
    for code, text in texts.items():
        text = unicodedata.normalize("NFC", text)
        text = "".join(
            char
            for char in text
            if char not in _REFUSED and (unicodedata.category(char) != "Cc" or char == "\n")
        ).strip()
        if len(text) > MAX_LENGTH:
            raise AnnouncementError(
                _("An announcement has at most %(max)s characters per language.")
                % {"max": MAX_LENGTH}
            )
        if text:
            cleaned[code] = text
    if not cleaned:
        raise AnnouncementError(_("Write the announcement in at least one language."))
    return cleaned


def _user_or_none(user: AbstractBaseUser | AnonymousUser | None) -> AbstractBaseUser | None:
    return user if user is not None and user.is_authenticated else None


def post_announcement(
    *,
    edition: Edition,
    text: dict[str, str],
    level: str = Announcement.Level.INFO,
    by: AbstractBaseUser | AnonymousUser | None = None,
) -> Announcement:
    """Publish an announcement now. Raises :class:`AnnouncementError` on empty or long text."""
    if level not in Announcement.Level.values:
        raise AnnouncementError(_("Unknown level."))
    texts = _clean_text(clean_translations(text))
    with transaction.atomic():
        announcement = Announcement.objects.create(
            edition=edition,
            text=texts,
            level=level,
            created_by=_user_or_none(by),  # type: ignore[misc]  # AUTH_USER_MODEL is User
        )
        year = edition.year
        transaction.on_commit(lambda: notify.changed(year=year))
    logger.info("announcement %s posted for %s", announcement.pk, edition.year)
    return announcement


def withdraw_announcement(
    *, announcement: Announcement, by: AbstractBaseUser | AnonymousUser | None = None
) -> Announcement:
    """Stop showing an announcement (kept for the record). Withdrawing twice is a no-op."""
    with transaction.atomic():
        locked = (
            Announcement.objects.select_for_update()
            .select_related("edition")
            .get(pk=announcement.pk)
        )
        if locked.withdrawn_at is None:
            locked.withdrawn_at = now()
            locked.save(update_fields=["withdrawn_at"])
            year = locked.edition.year
            transaction.on_commit(lambda: notify.changed(year=year))
            logger.info("announcement %s withdrawn by %s", locked.pk, getattr(by, "pk", None))
    return locked
