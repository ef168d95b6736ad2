from __future__ import annotations

from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from gathering.core.translated import TranslatedField

# The supervisory authority named by default (the organisation is French: CNIL). An
# organisation elsewhere enters its own; empty fields show these again (``privacy`` notice).
CNIL_NAME = "Commission nationale de l'informatique et des libertés (CNIL)"
CNIL_ADDRESS = "3 place de Fontenoy, TSA 80715, 75334 Paris Cedex 07, France"
CNIL_URL = "https://www.cnil.fr/"


class Organisation(models.Model):
    """The organisation that runs the convention: one per installation (row id 1).

    Besides its name and contact, it holds what the legal notice (French LCEN art. 6: the
    publisher, its director of publication, the host) and the privacy notice (GDPR art. 13:
    the controller, its data-protection contact, the supervisory authority) must say; the
    ``privacy`` app writes both pages from these fields."""

    name = TranslatedField(_("name"), max_length=200)
    short_name = models.CharField(_("short name"), max_length=60, blank=True)
    website = models.URLField(_("website"), blank=True)
    contact_email = models.EmailField(_("contact e-mail"), blank=True)
    default_language = models.CharField(_("default language"), max_length=8, default="en")

    # Publisher (legal notice) and controller (privacy notice).
    legal_name = models.CharField(
        _("legal name"),
        max_length=200,
        blank=True,
        help_text=_("As registered, such as “Association Example”. Empty: the name above."),
    )
    postal_address = models.TextField(
        _("postal address"), max_length=500, blank=True, help_text=_("The registered office.")
    )
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    registration_id = models.CharField(
        _("registration number"),
        max_length=100,
        blank=True,
        help_text=_("Such as the RNA number of an association or the RCS number of a company."),
    )
    publication_director = models.CharField(
        _("director of publication"),
        max_length=200,
        blank=True,
        help_text=_("The person legally responsible for what the site publishes."),
    )
    # Host (legal notice).
    host_name = models.CharField(_("host's name"), max_length=200, blank=True)
    host_address = models.TextField(_("host's address"), max_length=500, blank=True)
    host_phone = models.CharField(_("host's phone"), max_length=40, blank=True)
    # Data protection (privacy notice).
    dpo_name = models.CharField(
        _("data protection officer"),
        max_length=200,
        blank=True,
        help_text=_("The name of your data protection officer, if you have appointed one."),
    )
    privacy_email = models.EmailField(
        _("data-protection e-mail"),
        blank=True,
        help_text=_("Where people send requests about their data. Empty: the contact e-mail."),
    )
    processors = models.TextField(
        _("processors"),
        max_length=2000,
        blank=True,
        help_text=_(
            "Companies that handle personal data on your behalf besides the host (email "
            "delivery, backups), one per line with their country."
        ),
    )
    transfers = models.TextField(
        _("transfers outside the European Economic Area"),
        max_length=2000,
        blank=True,
        help_text=_("Any, with their safeguards. Empty: the notice says there are none."),
    )
    log_retention_days = models.PositiveSmallIntegerField(
        _("days server logs are kept"),
        null=True,
        blank=True,
        validators=[MaxValueValidator(3650)],
        help_text=_(
            "How long your web server and host keep access logs (with IP addresses). Empty: "
            "the notice refers to the host."
        ),
    )
    supervisory_authority = models.CharField(
        _("supervisory authority"), max_length=200, blank=True, default=CNIL_NAME
    )
    supervisory_authority_address = models.TextField(
        _("supervisory authority's address"), max_length=500, blank=True, default=CNIL_ADDRESS
    )
    supervisory_authority_url = models.URLField(
        _("supervisory authority's website"), blank=True, default=CNIL_URL
    )

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
