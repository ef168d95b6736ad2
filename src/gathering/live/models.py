"""What staff post to the live page and the wall during the day."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from gathering.core.translated import TranslatedField
from gathering.program.models import Edition


class Announcement(models.Model):
    """A short text shown on the live page, the wall and every site's screen, in each language."""

    class Level(models.TextChoices):
        INFO = "info", _("Information")
        IMPORTANT = "important", _("Important")

    edition = models.ForeignKey(
        Edition,
        on_delete=models.CASCADE,
        related_name="announcements",
        verbose_name=_("edition"),
    )
    text = TranslatedField(
        _("text"), max_length=500, long=True, help_text=_("At most 500 characters per language.")
    )
    level = models.CharField(_("level"), max_length=10, choices=Level.choices, default=Level.INFO)
    published_at = models.DateTimeField(_("published"), default=now)
    # Withdrawn announcements stay for the record; they are no longer shown.
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("posted by"),
    )

    class Meta:
        ordering = ["-published_at", "-pk"]
        verbose_name = _("announcement")
        verbose_name_plural = _("announcements")
        indexes = [
            models.Index(fields=["edition", "-published_at"], name="live_announcement_recent")
        ]

    def __str__(self) -> str:
        return str(
            self.text.get(self.edition.default_language) or next(iter(self.text.values()), "")
        )

    @property
    def is_shown(self) -> bool:
        return self.withdrawn_at is None
