from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from gathering.core.translated import TranslatedField


class Organisation(models.Model):
    """The organisation that runs the convention: one per installation (row id 1)."""

    name = TranslatedField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=60, blank=True)
    website = models.URLField(_("website"), blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    default_language = models.CharField(_("default language"), max_length=8, default="en")

    class Meta:
        verbose_name = _("organisation")
        verbose_name_plural = _("organisation")

    def __str__(self) -> str:
        return str(self.name) or self.short_name


class CacheVersion(models.Model):
    """A counter per cached namespace; bumping it makes every cached page of it stale at once,
    in every server process (the row is shared, the caches need not be)."""

    name = models.CharField(max_length=60, primary_key=True)
    version = models.BigIntegerField(default=1)

    class Meta:
        verbose_name = _("cache version")

    def __str__(self) -> str:
        return f"{self.name}@{self.version}"
