"""Registration: categories of an edition, their questions, registrations, tickets, delegations.

Personal data (name, email, phone, answers) is encrypted at rest (``core/crypto.py``); the
email has a blind index beside it for duplicate detection. A place in a category is held by a
registration whose status is pending, offered or confirmed; waitlisted ones wait in order of
``waitlisted_at``. Writes go through ``services.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q
from django.utils.text import slugify
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from gathering.core.crypto import EncryptedJSONField, EncryptedTextField, blind_index
from gathering.core.translated import TranslatedField, clean_translations
from gathering.program.models import Edition
from gathering.registration.ticket_codes import CategoryCode

# The blind-index purpose of registrants' names (``core.crypto.normalise``: NFKC, spaces
# collapsed, case-folded).
NAME_PURPOSE = "registration-name"


def language_choices() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


class Category(models.Model):
    """A kind of place in an edition (attendee, press, …) with its capacity and opening times."""

    class Kind(models.TextChoices):
        ATTENDEE = "attendee", _("Attendee")
        DELEGATION_MEMBER = "delegation", _("Delegation member")
        PRESS = "press", _("Press")
        GUEST = "guest", _("Guest of honour")
        VOLUNTEER = "volunteer", _("Volunteer")
        STAFF = "staff", pgettext_lazy("registration category", "Staff")

    edition = models.ForeignKey(
        Edition,
        on_delete=models.CASCADE,
        related_name="registration_categories",
        verbose_name=_("edition"),
    )
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    slug = models.SlugField(_("short name in URLs"), max_length=50)
    name = TranslatedField(_("name"), max_length=100)
    description = TranslatedField(_("description"), max_length=2000, long=True, blank=True)
    capacity = models.PositiveIntegerField(
        _("capacity"), help_text=_("Places; further registrations go to the waiting list.")
    )
    opens_at = models.DateTimeField(_("registration opens"))
    closes_at = models.DateTimeField(_("registration closes"))
    is_public = models.BooleanField(
        _("public"),
        default=True,
        help_text=_(
            "Unticked categories are invitation-only: they are not listed, and only people "
            "with an invitation link (such as delegation members) can register."
        ),
    )
    gate = TranslatedField(
        _("entry gate"), max_length=100, blank=True, help_text=_("Shown on the ticket.")
    )
    entry_opens_at = models.DateTimeField(
        _("entry from"),
        null=True,
        blank=True,
        help_text=_("Tickets are valid from then; empty: the first day of the edition."),
    )
    entry_closes_at = models.DateTimeField(
        _("entry until"),
        null=True,
        blank=True,
        help_text=_("Tickets are valid until then; empty: the end of the last day."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["edition", "position", "slug"]
        verbose_name = _("registration category")
        verbose_name_plural = _("registration categories")
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "slug"], name="registration_category_slug_per_edition"
            ),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")),
                name="registration_category_closes_after_opening",
            ),
        ]

    def __str__(self) -> str:
        return str(self.name) or self.slug

    def clean(self) -> None:
        errors: dict[str, Any] = {}
        if self.opens_at and self.closes_at and self.closes_at <= self.opens_at:
            errors["closes_at"] = _("Registration must close after it opens.")
        if (
            self.entry_opens_at
            and self.entry_closes_at
            and self.entry_closes_at <= self.entry_opens_at
        ):
            errors["entry_closes_at"] = _("Entry must end after it starts.")
        if errors:
            raise ValidationError(errors)

    @property
    def code(self) -> CategoryCode:
        """The category byte of this category's ticket codes."""
        return KIND_CODES[self.Kind(self.kind)]

    def is_open(self, at: dt.datetime | None = None) -> bool:
        moment = at or now()
        return self.opens_at <= moment < self.closes_at

    def entry_window(self) -> tuple[dt.datetime, dt.datetime]:
        """When this category's tickets let people in (whole seconds, as tickets carry)."""
        tz = self.edition.tzinfo
        start = self.entry_opens_at or dt.datetime.combine(
            self.edition.start_date, dt.time.min, tzinfo=tz
        )
        # 23:59 rather than midnight: "until 30 June 23:59" reads as the last day.
        end = self.entry_closes_at or dt.datetime.combine(
            self.edition.end_date, dt.time(23, 59), tzinfo=tz
        )
        return start.replace(microsecond=0), end.replace(microsecond=0)


KIND_CODES: dict[Category.Kind, CategoryCode] = {
    Category.Kind.ATTENDEE: CategoryCode.ATTENDEE,
    Category.Kind.DELEGATION_MEMBER: CategoryCode.DELEGATION,
    Category.Kind.PRESS: CategoryCode.PRESS,
    Category.Kind.GUEST: CategoryCode.GUEST,
    Category.Kind.VOLUNTEER: CategoryCode.VOLUNTEER,
    Category.Kind.STAFF: CategoryCode.STAFF,
}


class Question(models.Model):
    """A question that organisers add to a category's form. Answers are stored encrypted in
    ``Registration.answers`` under the question's ``key``.

    ``choices`` (choice questions only) is a list of ``{"value": "<slug>", "label": {"en": …}}``.
    """

    class Kind(models.TextChoices):
        TEXT = "text", _("Text")
        CHOICE = "choice", _("Choice")
        YES_NO = "yes_no", _("Yes or no")

    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="questions", verbose_name=_("category")
    )
    key = models.SlugField(
        _("key"), max_length=40, help_text=_("Names the answer in exports; never shown.")
    )
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.TEXT)
    label = TranslatedField(_("question"), max_length=300)
    help_text = TranslatedField(_("help text"), max_length=1000, blank=True)
    choices = models.JSONField(_("choices"), default=list, blank=True)
    required = models.BooleanField(_("required"), default=False)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["category", "position", "pk"]
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        constraints = [
            models.UniqueConstraint(
                fields=["category", "key"], name="registration_question_key_per_category"
            )
        ]

    def __str__(self) -> str:
        return str(self.label) or self.key

    def clean(self) -> None:
        if self.kind != self.Kind.CHOICE:
            if self.choices:
                raise ValidationError({"choices": _("Only choice questions have choices.")})
            return
        self.choices = clean_choices(self.choices)

    def choice_values(self) -> list[str]:
        return [choice["value"] for choice in self.choices or []]


def clean_choices(value: Any) -> list[dict[str, Any]]:
    """Validate and normalise a choice question's choices (see :class:`Question`)."""
    message = _('Give a list of choices such as [{"value": "yes", "label": {"en": "Yes"}}].')
    if not isinstance(value, list) or not value:
        raise ValidationError({"choices": message})
    cleaned: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, dict) or not isinstance(item.get("value"), str):
            raise ValidationError({"choices": message})
        slug = slugify(item["value"])[:40]
        if not slug or slug in seen:
            raise ValidationError({"choices": _("Each choice needs its own value.")})
        seen.add(slug)
        cleaned.append({"value": slug, "label": dict(clean_translations(item.get("label")))})
    return cleaned


class Delegation(models.Model):
    """A group travelling together, registered by its leader; members join by invitation link
    or are added by the leader (each member still confirms and consents by email)."""

    class Transport(models.TextChoices):
        COACH = "coach", _("Coach")
        TRAIN = "train", _("Train")
        CAR = "car", _("Car")
        PLANE = "plane", _("Plane")
        OTHER = "other", pgettext_lazy("transport", "Other")

    edition = models.ForeignKey(
        Edition, on_delete=models.PROTECT, related_name="delegations", verbose_name=_("edition")
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="delegations",
        verbose_name=_("category of the members"),
    )
    leader = models.OneToOneField(
        "Registration",
        on_delete=models.PROTECT,
        related_name="led_delegation",
        verbose_name=_("leader"),
    )
    city = models.CharField(_("city of departure"), max_length=100)
    country = models.CharField(_("country of departure"), max_length=2)
    transport = models.CharField(
        _("transport"), max_length=8, choices=Transport.choices, default=Transport.COACH
    )
    expected_size = models.PositiveSmallIntegerField(
        _("expected size"), validators=[MinValueValidator(1), MaxValueValidator(2000)]
    )
    invitation_token_hash = models.CharField(max_length=64, unique=True, editable=False)
    deadline = models.DateTimeField(
        _("members can change until"),
        help_text=_("After this moment the leader can no longer add or remove members."),
    )
    coach_number = models.CharField(_("coach number"), max_length=20, blank=True)
    arrival_slot = models.DateTimeField(_("arrival slot"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["edition", "country", "city", "pk"]
        verbose_name = _("delegation")
        verbose_name_plural = _("delegations")
        indexes = [models.Index(fields=["edition", "city"], name="delegation_edition_city")]

    def __str__(self) -> str:
        return f"{self.city} ({self.country}) #{self.pk}"

    def is_open(self, at: dt.datetime | None = None) -> bool:
        return (at or now()) < self.deadline


class Registration(models.Model):
    """One person's registration in one category of an edition."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting email confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        WAITLISTED = "waitlisted", _("On the waiting list")
        OFFERED = "offered", _("Place offered")
        CANCELLED = "cancelled", _("Cancelled")

    class CancelReason(models.TextChoices):
        BY_REGISTRANT = "registrant", _("Cancelled by the registrant")
        BY_STAFF = "staff", _("Cancelled by staff")
        UNCONFIRMED = "unconfirmed", _("Email not confirmed in time")
        OFFER_EXPIRED = "offer_expired", _("Offered place not accepted in time")
        REMOVED = "removed", _("Removed from the delegation")
        ERASED = "erased", _("Personal data erased")

    # Statuses that hold one of the category's places.
    HOLDING_PLACE = (Status.PENDING, Status.OFFERED, Status.CONFIRMED)

    edition = models.ForeignKey(
        Edition, on_delete=models.PROTECT, related_name="registrations", verbose_name=_("edition")
    )
    category = models.ForeignKey(
        Category,
        on_delete=models.PROTECT,
        related_name="registrations",
        verbose_name=_("category"),
    )
    delegation = models.ForeignKey(
        Delegation,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="members",
        verbose_name=_("delegation"),
    )
    # Personal data: encrypted at rest, NULL once erased.
    name = EncryptedTextField(_("name as printed"), null=True)
    email = EncryptedTextField(_("email"), null=True)
    # NULL, not "", once erased: the unique constraint below must ignore erased rows.
    email_index = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001
    # The name's blind index (purpose "name": case, width and spacing do not matter), for the
    # registration desk's exact look-up by name; kept in step with ``name`` by ``save()``.
    name_index = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001
    phone = EncryptedTextField(_("phone"), null=True, blank=True)
    answers = EncryptedJSONField(_("answers"), null=True, default=dict)
    language = models.CharField(_("language"), max_length=8, choices=language_choices, default="en")
    country = models.CharField(
        _("country of residence"), max_length=2, blank=True, help_text=_("ISO 3166 code.")
    )
    # What the person agreed to, as it was shown to them (empty until they consent: a member
    # added by a delegation leader consents when confirming their email).
    consent_version = models.CharField(_("consent text version"), max_length=40, blank=True)
    consent_purpose = models.TextField(_("purpose shown"), blank=True)
    consent_retention = models.TextField(_("retention shown"), blank=True)
    consented_at = models.DateTimeField(_("consent given"), null=True, blank=True)

    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    cancel_reason = models.CharField(
        _("reason for cancelling"), max_length=14, choices=CancelReason.choices, blank=True
    )
    # sha256 of the private link's token; the token itself is only ever in the email.
    # NULL once erased (unique, so several erased rows need NULL rather than "").
    manage_token_hash = models.CharField(  # noqa: DJ001
        max_length=64, null=True, unique=True, editable=False
    )

    created_at = models.DateTimeField(_("registered"), default=now, editable=False)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    email_confirmed_at = models.DateTimeField(_("email confirmed"), null=True, blank=True)
    confirm_by = models.DateTimeField(
        _("to be confirmed by"),
        null=True,
        blank=True,
        help_text=_("An unconfirmed registration gives its place back after this moment."),
    )
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    waitlisted_at = models.DateTimeField(_("put on the waiting list"), null=True, blank=True)
    offer_expires_at = models.DateTimeField(_("offer open until"), null=True, blank=True)
    cancelled_at = models.DateTimeField(_("cancelled"), null=True, blank=True)
    erased_at = models.DateTimeField(_("personal data erased"), null=True, blank=True)

    class Meta:
        ordering = ["edition", "category", "created_at", "pk"]
        verbose_name = _("registration")
        verbose_name_plural = _("registrations")
        # "<action>_<model>", as Django names its own (core/roles.py grants it as "print_badges").
        permissions = [
            ("print_badges_registration", _("Can print badges")),
            # The registration desk: one person at a time, found by code or exact name.
            ("lookup_registration", _("Can look up one registration at the desk")),
            # The press officer: the registrations of press categories only.
            ("press_registration", _("Can manage press accreditations")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "email_index"],
                condition=~Q(status="cancelled") & Q(email_index__isnull=False),
                name="one_active_registration_per_email",
            ),
            models.CheckConstraint(
                condition=~Q(status="offered") | Q(offer_expires_at__isnull=False),
                name="registration_offer_has_deadline",
            ),
            models.CheckConstraint(
                condition=~Q(status="waitlisted") | Q(waitlisted_at__isnull=False),
                name="registration_waitlisted_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["category", "status"], name="registration_category_status"),
            models.Index(fields=["edition", "email_index"], name="registration_email_index"),
            models.Index(fields=["edition", "name_index"], name="registration_name_index"),
            models.Index(fields=["status", "offer_expires_at"], name="registration_offers"),
            models.Index(fields=["status", "confirm_by"], name="registration_unconfirmed"),
        ]

    def __str__(self) -> str:
        # Never the name: this string appears in logs and admin history.
        return f"{_('Registration')} #{self.pk}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # The name's blind index follows the name, whoever saves it (a backup's restore inserts
        # rows as stored, index included, without calling save()).
        update_fields = kwargs.get("update_fields")
        if update_fields is None or "name" in update_fields:
            self.name_index = blind_index(self.name, purpose=NAME_PURPOSE) if self.name else None
            if update_fields is not None and "name_index" not in update_fields:
                kwargs["update_fields"] = [*update_fields, "name_index"]
        super().save(*args, **kwargs)

    @property
    def holds_place(self) -> bool:
        return self.status in self.HOLDING_PLACE

    @property
    def is_active(self) -> bool:
        return self.status != self.Status.CANCELLED

    @property
    def has_consented(self) -> bool:
        return self.consented_at is not None


class Ticket(models.Model):
    """The ticket of a confirmed registration. Its QR code (``ticket_codes.sign_ticket``) is
    signed again whenever it is shown, so the database holds no usable code."""

    ticket_id = models.CharField(
        _("ticket id"), max_length=16, unique=True, help_text=_("8 random bytes, in hex.")
    )
    registration = models.OneToOneField(
        Registration,
        on_delete=models.CASCADE,
        related_name="ticket",
        verbose_name=_("registration"),
    )
    edition = models.ForeignKey(
        Edition, on_delete=models.PROTECT, related_name="tickets", verbose_name=_("edition")
    )
    category_code = models.PositiveSmallIntegerField(
        _("category code"), choices=[(int(code), code.name.title()) for code in CategoryCode]
    )
    key_id = models.PositiveIntegerField(_("signing key id"))
    valid_from = models.DateTimeField(_("valid from"))
    valid_until = models.DateTimeField(_("valid until"))
    issued_at = models.DateTimeField(_("issued"), default=now)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True)

    class Meta:
        ordering = ["edition", "issued_at", "pk"]
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [models.Index(fields=["edition", "revoked_at"], name="ticket_edition_revoked")]
        constraints = [
            models.CheckConstraint(
                condition=Q(valid_until__gt=models.F("valid_from")),
                name="ticket_window_not_empty",
            )
        ]

    def __str__(self) -> str:
        return self.ticket_id

    @property
    def ticket_id_bytes(self) -> bytes:
        return bytes.fromhex(self.ticket_id)

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None
