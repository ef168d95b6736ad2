"""Satellite sites of an edition, their attendance reports, and the edition's stream channels.

A site is a place (or an online room) where people follow the gathering from afar. A
coordinator applies for it; staff approve it, which gives the coordinator a staff account
limited to their own site (``services.approve_site``). A site counts its attendance either by
reports during the day or, when it wants tickets, by scans at its gates (``checkin.Gate.site``).

The contact's name and email are personal data: encrypted at rest, with a blind index of the
email beside them to find a second application of the same person for the same city. What
the public sees of a site is its name, city, country, venue (or "online") and channel.

The platform does not host video: a channel is a link to the edition's main stream or to one
interpretation language's stream. Writes go through ``services.py``.
"""

from __future__ import annotations

import zoneinfo
from functools import cache
from typing import Any

from django.conf import settings
from django.conf.locale import LANG_INFO
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from gathering.core.crypto import EncryptedTextField
from gathering.core.translated import TranslatedField
from gathering.program.models import Edition
from gathering.registration.countries import is_country_code

EXPECTED_ATTENDANCE_MAX = 1_000_000


@cache
def stream_language_codes() -> frozenset[str]:
    """Language codes Django knows by name (``django.conf.locale.LANG_INFO``)."""
    return frozenset(code for code, info in LANG_INFO.items() if "name" in info)


def stream_language_choices() -> list[tuple[str, str]]:
    return sorted(
        ((code, f"{LANG_INFO[code]['name']} ({code})") for code in stream_language_codes()),
        key=lambda item: item[1],
    )


def site_language_choices() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


def validate_stream_language(value: str) -> None:
    if value and value not in stream_language_codes():
        raise ValidationError(
            _("Enter a language code such as fa, en, fr, de or ar."), code="invalid_language"
        )


def validate_timezone(value: str) -> None:
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError) as error:
        raise ValidationError(
            _("Choose a time zone from the list, such as Europe/Berlin."), code="invalid_timezone"
        ) from error


def validate_country(value: str) -> None:
    if not is_country_code(value):
        raise ValidationError(_("Choose a country from the list."), code="invalid_country")


# Stream links are opened by visitors: only web addresses, never javascript: or data:.
validate_web_url = URLValidator(schemes=["https", "http"])


class StreamChannel(models.Model):
    """A stream of the edition: the main stream (the floor as it sounds) or one interpretation
    language. The platform links to it; it does not host video."""

    edition = models.ForeignKey(
        Edition, on_delete=models.CASCADE, related_name="channels", verbose_name=_("edition")
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        blank=True,
        validators=[validate_stream_language],
        help_text=_(
            "The interpretation language (a code such as fa, en, fr, de, ar). Empty for the "
            "main stream, which carries the floor in whatever language is spoken."
        ),
    )
    label = TranslatedField(_("label"), max_length=100)
    url = models.URLField(_("stream link"), max_length=500, validators=[validate_web_url])
    is_main = models.BooleanField(_("main stream"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["edition", "-is_main", "position", "language"]
        verbose_name = _("stream channel")
        verbose_name_plural = _("stream channels")
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "language"], name="satellites_channel_language_per_edition"
            ),
            models.UniqueConstraint(
                fields=["edition"],
                condition=Q(is_main=True),
                name="satellites_one_main_channel_per_edition",
            ),
            # Only the main stream may go without a language.
            models.CheckConstraint(
                condition=Q(is_main=True) | ~Q(language=""),
                name="satellites_channel_has_language",
            ),
        ]

    def __str__(self) -> str:
        return str(self.label) or self.language or str(_("Main stream"))

    def clean(self) -> None:
        if not self.is_main and not self.language:
            raise ValidationError({"language": _("An interpretation channel needs its language.")})


class Site(models.Model):
    """A satellite site of an edition, from its application to its approval or rejection."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for a decision")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    edition = models.ForeignKey(
        Edition, on_delete=models.PROTECT, related_name="satellite_sites", verbose_name=_("edition")
    )
    slug = models.SlugField(_("short name in URLs"), max_length=60)
    name = models.CharField(_("name"), max_length=120)
    city = models.CharField(_("city"), max_length=100)
    country = models.CharField(_("country"), max_length=2, validators=[validate_country])
    is_online = models.BooleanField(_("online"), default=False)
    venue = models.CharField(_("venue"), max_length=200, blank=True)
    expected_attendance = models.PositiveIntegerField(
        _("expected attendance"),
        validators=[MinValueValidator(1), MaxValueValidator(EXPECTED_ATTENDANCE_MAX)],
    )
    timezone = models.CharField(_("time zone"), max_length=64, validators=[validate_timezone])
    # Personal data: encrypted at rest, NULL once erased (``services.erase_expired_contacts``);
    # the blind index finds a second application of the same person for the same city.
    contact_name = EncryptedTextField(_("contact name"), null=True)
    contact_email = EncryptedTextField(_("contact email"), null=True)
    contact_email_index = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001
    language = models.CharField(
        _("language of emails"), max_length=8, choices=site_language_choices, default="en"
    )
    consent_version = models.CharField(_("consent text version"), max_length=40, blank=True)
    coordinator = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="coordinated_sites",
        verbose_name=_("coordinator"),
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    channel = models.ForeignKey(
        StreamChannel,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sites",
        verbose_name=_("channel"),
        help_text=_("The stream this site shows; empty for the main stream."),
    )
    uses_tickets = models.BooleanField(
        _("checks tickets"),
        default=False,
        help_text=_("The site scans tickets at its gates instead of reporting a count."),
    )
    created_at = models.DateTimeField(_("applied"), default=now, editable=False)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("decided by"),
    )

    class Meta:
        ordering = ["edition", "country", "city", "pk"]
        verbose_name = _("satellite site")
        verbose_name_plural = _("satellite sites")
        permissions = [("coordinate_site", _("Can coordinate their own satellite site"))]
        constraints = [
            models.UniqueConstraint(fields=["edition", "slug"], name="satellites_slug_per_edition"),
            # One application per contact and city: a second one finds the first.
            models.UniqueConstraint(
                "edition",
                "contact_email_index",
                Lower("city"),
                name="satellites_one_application_per_contact_and_city",
            ),
            models.CheckConstraint(
                condition=Q(expected_attendance__gte=1)
                & Q(expected_attendance__lte=EXPECTED_ATTENDANCE_MAX),
                name="satellites_expected_attendance_range",
            ),
        ]
        indexes = [models.Index(fields=["edition", "status"], name="satellites_site_status")]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if not self.is_online and not self.venue.strip():
            errors["venue"] = _("Enter the venue, or tick “online”.")
        if self.channel_id and self.channel and self.channel.edition_id != self.edition_id:
            errors["channel"] = _("Choose one of this edition's channels.")
        if errors:
            raise ValidationError(errors)

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def is_approved(self) -> bool:
        return self.status == self.Status.APPROVED


class AttendanceReport(models.Model):
    """A count of the people at a site at one moment, as its coordinator reported it.

    A count far above what the site expected is kept as ``held`` until staff accept or reject
    it; only accepted reports count."""

    class Status(models.TextChoices):
        ACCEPTED = "accepted", _("Accepted")
        HELD = "held", _("Held for review")
        REJECTED = "rejected", _("Rejected")

    site = models.ForeignKey(
        Site, on_delete=models.CASCADE, related_name="reports", verbose_name=_("site")
    )
    count = models.PositiveIntegerField(_("people present"))
    reported_at = models.DateTimeField(_("counted at"))
    note = models.CharField(_("note"), max_length=280, blank=True)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.ACCEPTED
    )
    reported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reported by"),
    )
    created_at = models.DateTimeField(_("received"), default=now, editable=False)

    class Meta:
        ordering = ["site", "-reported_at", "-pk"]
        verbose_name = _("attendance report")
        verbose_name_plural = _("attendance reports")
        indexes = [
            # The latest accepted report of each site (live figures).
            models.Index(
                fields=["site", "status", "-reported_at"], name="satellites_report_latest"
            ),
            models.Index(fields=["status"], name="satellites_report_status"),
        ]

    def __str__(self) -> str:
        return f"{self.site_id}: {self.count} ({self.status})"
