"""The program of each yearly edition: rooms, tracks, sessions and their speakers."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gathering.core.translated import TranslatedField

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise


def language_choices() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


class Edition(models.Model):
    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        LIVE = "live", _("Live now")
        PAST = "past", _("Past")

    year = models.PositiveSmallIntegerField(
        _("year"), unique=True, validators=[MinValueValidator(1900), MaxValueValidator(2999)]
    )
    title = TranslatedField(_("title"), max_length=200)
    focus = TranslatedField(
        _("focus"), max_length=2000, long=True, blank=True, help_text=_("The year's theme.")
    )
    city = TranslatedField(_("city"), max_length=100)
    venue_name = TranslatedField(_("venue"), max_length=200)
    venue_address = TranslatedField(_("venue address"), max_length=500, long=True, blank=True)
    latitude = models.DecimalField(
        _("latitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-90), MaxValueValidator(90)],
    )
    longitude = models.DecimalField(
        _("longitude"),
        max_digits=9,
        decimal_places=6,
        null=True,
        blank=True,
        validators=[MinValueValidator(-180), MaxValueValidator(180)],
    )
    start_date = models.DateField(_("first day"))
    end_date = models.DateField(_("last day"))
    timezone = models.CharField(_("time zone"), max_length=64, default="Europe/Paris")
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PLANNED
    )
    default_language = models.CharField(
        _("default language"),
        max_length=8,
        choices=language_choices,
        default="en",
        help_text=_("Texts missing in a visitor's language are shown in this one."),
    )
    retention_days = models.PositiveSmallIntegerField(
        _("days personal data is kept"),
        default=30,
        validators=[MaxValueValidator(3650)],
        help_text=_(
            "Names, email addresses, phone numbers and answers of this edition's attendees and "
            "signers are erased this many days after its last day (counts and anonymous "
            "statistics remain)."
        ),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-year"]
        verbose_name = _("edition")
        verbose_name_plural = _("editions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end_date__gte=models.F("start_date")),
                name="edition_ends_after_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.year} — {self.title}"

    def clean(self) -> None:
        if self.start_date and self.end_date and self.end_date < self.start_date:
            raise ValidationError({"end_date": _("The last day cannot be before the first day.")})
        try:
            zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
            raise ValidationError({"timezone": _("Unknown time zone.")}) from error

    @property
    def tzinfo(self) -> zoneinfo.ZoneInfo:
        return zoneinfo.ZoneInfo(self.timezone)

    @property
    def retention_deadline(self) -> dt.datetime:
        """When the personal data of this edition's people is erased (``privacy`` app): the
        end of the ``retention_days``-th day after the last day, in the edition's time zone."""
        day = self.end_date + dt.timedelta(days=self.retention_days + 1)
        return dt.datetime.combine(day, dt.time.min, tzinfo=self.tzinfo)


class Room(models.Model):
    edition = models.ForeignKey(
        Edition, on_delete=models.CASCADE, related_name="rooms", verbose_name=_("edition")
    )
    name = TranslatedField(_("name"), max_length=100)
    slug = models.SlugField(_("short name in URLs"), max_length=50)
    capacity = models.PositiveIntegerField(_("capacity"), null=True, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("room")
        verbose_name_plural = _("rooms")
        constraints = [
            models.UniqueConstraint(fields=["edition", "slug"], name="room_slug_unique_per_edition")
        ]

    def __str__(self) -> str:
        return str(self.name) or self.slug


class Track(models.Model):
    edition = models.ForeignKey(
        Edition, on_delete=models.CASCADE, related_name="tracks", verbose_name=_("edition")
    )
    name = TranslatedField(_("name"), max_length=100)
    slug = models.SlugField(_("short name in URLs"), max_length=50)
    color = models.CharField(
        _("colour"),
        max_length=7,
        default="#1f5f8b",
        help_text=_("A hex colour such as #1f5f8b, used beside the track's sessions."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("track")
        verbose_name_plural = _("tracks")
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "slug"], name="track_slug_unique_per_edition"
            )
        ]

    def __str__(self) -> str:
        return str(self.name) or self.slug

    def clean(self) -> None:
        import re

        if not re.fullmatch(r"#[0-9a-fA-F]{6}", self.color or ""):
            raise ValidationError({"color": _("Enter a colour as # followed by six hex digits.")})


class Speaker(models.Model):
    """A person who speaks at one or more editions. Only public speakers are ever shown."""

    name = TranslatedField(_("name"), max_length=200)
    slug = models.SlugField(_("short name in URLs"), max_length=80, unique=True)
    role_title = TranslatedField(_("role or title"), max_length=300, blank=True)
    country = models.CharField(
        _("country"), max_length=2, blank=True, help_text=_("ISO 3166 two-letter code, e.g. FR.")
    )
    affiliation = TranslatedField(_("affiliation"), max_length=300, blank=True)
    biography = TranslatedField(_("biography"), max_length=10000, long=True, blank=True)
    photo = models.ImageField(_("photo"), upload_to="speakers/", blank=True)
    is_public = models.BooleanField(
        _("public"),
        default=True,
        help_text=_("Unticked speakers appear nowhere on the public pages or exports."),
    )

    class Meta:
        ordering = ["slug"]
        verbose_name = _("speaker")
        verbose_name_plural = _("speakers")

    def __str__(self) -> str:
        return str(self.name) or self.slug

    def clean(self) -> None:
        if self.country and not (len(self.country) == 2 and self.country.isalpha()):
            raise ValidationError({"country": _("Enter a two-letter country code.")})
        self.country = self.country.upper()


class Session(models.Model):
    class Kind(models.TextChoices):
        PLENARY = "plenary", _("Plenary")
        PANEL = "panel", _("Panel")
        SPEECH = "speech", _("Speech")
        PERFORMANCE = "performance", pgettext_lazy("session kind", "Performance")
        BREAK = "break", pgettext_lazy("session kind", "Break")

    edition = models.ForeignKey(
        Edition, on_delete=models.CASCADE, related_name="sessions", verbose_name=_("edition")
    )
    title = TranslatedField(_("title"), max_length=300)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.SPEECH)
    start = models.DateTimeField(_("start"))
    end = models.DateTimeField(_("end"))
    room = models.ForeignKey(
        Room,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
        verbose_name=_("room"),
    )
    track = models.ForeignKey(
        Track,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="sessions",
        verbose_name=_("track"),
    )
    floor_language = models.CharField(
        _("language of the floor"),
        max_length=8,
        default="fa",
        help_text=_("ISO 639-1 code of the language spoken on stage, e.g. fa, en, fr."),
    )
    interpretation_languages = models.JSONField(
        _("interpretation languages"),
        default=list,
        blank=True,
        help_text=_("ISO 639-1 codes of the interpretation channels."),
    )
    abstract = TranslatedField(_("abstract"), max_length=10000, long=True, blank=True)
    stream_url = models.URLField(_("stream link"), blank=True)
    speakers = models.ManyToManyField(
        Speaker,
        through="SessionSpeaker",
        related_name="sessions",
        verbose_name=_("speakers"),
        blank=True,
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "room__position", "pk"]
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        indexes = [models.Index(fields=["edition", "start"], name="session_edition_start")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(end__gt=models.F("start")), name="session_ends_after_start"
            ),
        ]

    def __str__(self) -> str:
        return str(self.title)

    def clean(self) -> None:
        errors: dict[str, StrOrPromise] = {}
        if self.start and self.end and self.end <= self.start:
            errors["end"] = _("A session must end after it starts.")
        if (
            self.room_id
            and self.edition_id
            and self.room
            and self.room.edition_id != self.edition_id
        ):
            errors["room"] = _("This room belongs to another edition.")
        if (
            self.track_id
            and self.edition_id
            and self.track
            and self.track.edition_id != self.edition_id
        ):
            errors["track"] = _("This track belongs to another edition.")
        codes = self.interpretation_languages
        if not isinstance(codes, list) or not all(
            isinstance(code, str) and 2 <= len(code) <= 8 and code.replace("-", "").isalpha()
            for code in codes
        ):
            errors["interpretation_languages"] = _(
                'Give a list of language codes, e.g. ["en", "fr"].'
            )
        if errors:
            raise ValidationError(errors)

    @property
    def duration_minutes(self) -> int:
        return int((self.end - self.start).total_seconds() // 60)


class SessionSpeaker(models.Model):
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="speaker_links")
    speaker = models.ForeignKey(Speaker, on_delete=models.CASCADE, related_name="session_links")
    position = models.PositiveSmallIntegerField(_("order"), default=0)

    class Meta:
        ordering = ["position", "pk"]
        verbose_name = _("speaker of the session")
        verbose_name_plural = _("speakers of the session")
        constraints = [
            models.UniqueConstraint(fields=["session", "speaker"], name="speaker_once_per_session")
        ]

    def __str__(self) -> str:
        return f"{self.session_id}:{self.speaker_id}"
