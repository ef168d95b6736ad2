"""Campaigns ("add your voice"), their signatures, endorsements and invalidations.

A signature counts once its email is confirmed (double opt-in), unless it was flagged by the
anti-abuse checks, in which case it waits for a moderator. What is kept about a signer is the
least that lets the count be honest:

- the email, encrypted, only until it is confirmed (then only a keyed hash that detects a
  second signature), unless the signer asked for news;
- the network prefix of their address as a keyed hash, and the email's domain, only for the
  anti-abuse window (``abuse_until``), for moderators' bulk decisions;
- the name, city and message, encrypted at rest, shown only as the signer allowed.

Each counted signature appends a leaf to the campaign's transparency log (the ``transparency``
app): it commits to the signature's public id, its country and a random salt, never to a name
or address. Withdrawals and invalidations are published as counts with their reasons, so the
log's size reconciles with the count shown.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from gathering.core.crypto import EncryptedTextField
from gathering.core.translated import TranslatedField
from gathering.program.models import Edition


def language_choices() -> list[tuple[str, str]]:
    return [(code, str(name)) for code, name in settings.LANGUAGES]


class Campaign(models.Model):
    """A statement, petition or message wall of one edition."""

    class Kind(models.TextChoices):
        STATEMENT = "statement", _("Statement of support")
        PETITION = "petition", _("Petition")
        WALL = "wall", _("Message wall")

    edition = models.ForeignKey(
        Edition, on_delete=models.PROTECT, related_name="campaigns", verbose_name=_("edition")
    )
    slug = models.SlugField(_("address"), max_length=60)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.STATEMENT)
    title = TranslatedField(_("title"))
    text = TranslatedField(_("text"), help_text=_("The statement or petition, per language."))
    addressee = TranslatedField(
        _("addressed to"),
        blank=True,
        help_text=_("For a petition: who receives it, such as a parliament."),
    )
    goal = models.PositiveIntegerField(_("goal"), default=10_000)
    opens_at = models.DateTimeField(_("opens"))
    closes_at = models.DateTimeField(_("closes"))
    asks_name = models.BooleanField(_("asks for a name that may be shown"), default=True)
    asks_city = models.BooleanField(_("asks for a city (optional)"), default=True)
    asks_message = models.BooleanField(_("asks for a message (optional)"), default=True)
    country_threshold = models.PositiveSmallIntegerField(
        _("smallest country shown"),
        default=10,
        help_text=_(
            "Countries with fewer signatures are counted together as “other countries”, so that "
            "a small number never points at a person."
        ),
    )
    is_published = models.BooleanField(_("published"), default=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    created_at = models.DateTimeField(_("created"), default=now, editable=False)

    class Meta:
        ordering = ["edition", "position", "pk"]
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        constraints = [
            models.UniqueConstraint(fields=["edition", "slug"], name="campaign_slug_per_edition"),
            models.CheckConstraint(
                condition=Q(closes_at__gt=models.F("opens_at")), name="campaign_closes_after_open"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.title} ({self.edition.year})"

    @property
    def log_slug(self) -> str:
        """The transparency log of this campaign (its slug never changes: the pk does not)."""
        return self.log_slug_of(self.pk)

    @staticmethod
    def log_slug_of(campaign_id: int) -> str:
        return f"campaign-{campaign_id}"

    def is_open(self, at: object = None) -> bool:
        moment = at or now()
        return bool(self.is_published and self.opens_at <= moment < self.closes_at)  # type: ignore[operator]


class Signature(models.Model):
    """One person's signature of one campaign."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Awaiting email confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        WITHDRAWN = "withdrawn", _("Withdrawn by the signer")
        INVALIDATED = "invalidated", _("Invalidated by a moderator")

    class Review(models.TextChoices):
        NONE = "", _("Not flagged")
        HELD = "held", _("Held for review")
        APPROVED = "approved", _("Approved by a moderator")

    class MessageStatus(models.TextChoices):
        NONE = "", _("No message")
        PENDING = "pending", _("Awaiting moderation")
        APPROVED = "approved", _("Approved")
        REJECTED = "rejected", _("Rejected")

    # No index of its own: ``signature_counts`` (campaign, status, country) leads with it.
    campaign = models.ForeignKey(
        Campaign,
        on_delete=models.PROTECT,
        related_name="signatures",
        verbose_name=_("campaign"),
        db_index=False,
    )
    # The id the transparency log commits to (random: it reveals neither order nor count).
    # Unique by a constraint in Meta, as are the token hashes: ``unique=True`` would add, on
    # PostgreSQL, a second (LIKE) index to each that no query uses and every insert maintains.
    public_id = models.CharField(_("public id"), max_length=32, editable=False)
    salt = models.CharField(max_length=32, editable=False)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING
    )
    language = models.CharField(_("language"), max_length=8, choices=language_choices)
    country = models.CharField(_("country"), max_length=2)
    # Personal data: encrypted at rest, NULL when not given or once erased.
    name = EncryptedTextField(_("name as it may be shown"), null=True, blank=True)
    show_name = models.BooleanField(_("agreed to be named"), default=False)
    city = EncryptedTextField(_("city"), null=True, blank=True)
    message = EncryptedTextField(_("message"), null=True, blank=True)
    message_status = models.CharField(
        _("message"), max_length=10, choices=MessageStatus.choices, blank=True
    )
    email = EncryptedTextField(_("email"), null=True, blank=True)
    # Keyed hash of the canonical address: one signature per person and campaign.
    email_hash = models.CharField(max_length=64, editable=False)
    wants_news = models.BooleanField(_("wants news"), default=False)
    consent_version = models.CharField(_("consent text version"), max_length=40)
    # Anti-abuse data, erased once ``abuse_until`` has passed.
    email_domain = models.CharField(_("email domain"), max_length=253, blank=True)
    prefix_hash = models.CharField(_("network (keyed hash)"), max_length=64, blank=True)
    abuse_until = models.DateTimeField(null=True, blank=True)
    flags = models.JSONField(_("flags"), default=list, blank=True)
    review = models.CharField(
        _("review"), max_length=10, choices=Review.choices, blank=True, default=Review.NONE
    )
    confirm_token_hash = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001
    withdraw_token_hash = models.CharField(max_length=64, null=True, editable=False)  # noqa: DJ001
    # One signature per leaf, by a partial unique constraint in Meta (not a OneToOneField):
    # a pending signature has no leaf, and a plain unique index would hold an entry for each.
    leaf = models.ForeignKey(
        "transparency.Entry",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        editable=False,
        db_index=False,
    )
    # Indexed in Meta only where set: new signatures have none.
    invalidation = models.ForeignKey(
        "Invalidation",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="signatures",
        verbose_name=_("invalidation"),
        db_index=False,
    )
    created_at = models.DateTimeField(_("signed"), default=now, editable=False)
    confirm_by = models.DateTimeField(_("to be confirmed by"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    withdrawn_at = models.DateTimeField(_("withdrawn"), null=True, blank=True)

    class Meta:
        ordering = ["campaign", "created_at", "pk"]
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        permissions = [("moderate_signature", _("Can moderate signatures and messages"))]
        # Every index here is maintained by each signature's insert (the hot path of a
        # campaign): the partial ones only for the rows they hold, which a new signature
        # mostly is not. SQLite uses a partial index only for a query that repeats its
        # condition's terms, so each condition is the one its queries filter on.
        constraints = [
            # A withdrawn signature frees the address: its owner may sign again. Also the
            # index of the look-up of an address's signature (services._existing_signature).
            models.UniqueConstraint(
                fields=["campaign", "email_hash"],
                condition=~Q(status="withdrawn"),
                name="one_signature_per_email",
            ),
            # Constraints rather than unique=True: no LIKE index on PostgreSQL (see above).
            # NULL token hashes (used or erased links) stay allowed, as many as there are.
            models.UniqueConstraint(fields=["public_id"], name="signature_public_id_unique"),
            models.UniqueConstraint(
                fields=["confirm_token_hash"], name="signature_confirm_hash_unique"
            ),
            models.UniqueConstraint(
                fields=["withdraw_token_hash"], name="signature_withdraw_hash_unique"
            ),
            models.UniqueConstraint(
                fields=["leaf"], condition=Q(leaf__isnull=False), name="signature_leaf_unique"
            ),
        ]
        indexes = [
            # Also the index of the campaign foreign key (it leads with campaign).
            models.Index(fields=["campaign", "status", "country"], name="signature_counts"),
            models.Index(fields=["status", "confirm_by"], name="signature_unconfirmed"),
            models.Index(fields=["abuse_until"], name="signature_abuse_window"),
            models.Index(
                fields=["invalidation"],
                condition=Q(invalidation__isnull=False),
                name="signature_invalidation",
            ),
            # selectors.list_held
            models.Index(
                fields=["campaign", "review"], condition=Q(review="held"), name="signature_review"
            ),
            # selectors.list_wall_messages (newest first: the index is read backwards)
            models.Index(
                fields=["campaign", "confirmed_at"],
                condition=Q(message_status="approved"),
                name="signature_wall",
            ),
            # selectors.list_pending_messages
            models.Index(
                fields=["campaign", "confirmed_at"],
                condition=Q(message_status="pending"),
                name="signature_messages_pending",
            ),
        ]

    def __str__(self) -> str:
        # Never the name: this string appears in logs and admin history.
        return f"{_('Signature')} #{self.pk}"

    @property
    def counts(self) -> bool:
        return self.status == self.Status.CONFIRMED and self.review != self.Review.HELD


class Endorsement(models.Model):
    """A public figure's support, entered or verified by staff, shown apart from signatures."""

    campaign = models.ForeignKey(
        Campaign, on_delete=models.CASCADE, related_name="endorsements", verbose_name=_("campaign")
    )
    name = models.CharField(_("name"), max_length=200)
    title = TranslatedField(_("title"), help_text=_("Such as “Member of the European Parliament”."))
    country = models.CharField(_("country"), max_length=2)
    statement = TranslatedField(_("statement"), blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("verified by"),
    )
    verified_at = models.DateTimeField(_("verified"), null=True, blank=True)
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["campaign", "position", "pk"]
        verbose_name = _("endorsement")
        verbose_name_plural = _("endorsements")

    def __str__(self) -> str:
        return self.name


class Invalidation(models.Model):
    """A moderator's decision to stop counting signatures, published with its reason."""

    class Kind(models.TextChoices):
        SIGNATURE = "signature", _("One signature")
        DOMAIN = "domain", _("Email domain")
        PREFIX = "prefix", _("Network")
        WINDOW = "window", _("Time window")

    campaign = models.ForeignKey(
        Campaign, on_delete=models.PROTECT, related_name="invalidations", verbose_name=_("campaign")
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    reason = models.CharField(_("reason"), max_length=300)
    # What was matched (a domain, a network hash, a time window); never shown publicly for
    # domains and networks (they could point at people), only the count and reason are.
    criteria = models.JSONField(_("criteria"), default=dict)
    count = models.PositiveIntegerField(_("signatures invalidated"), default=0)
    # Of those, how many had been counted (had a leaf in the log).
    counted = models.PositiveIntegerField(_("of which counted"), default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("by"),
    )
    created_at = models.DateTimeField(_("when"), default=now)

    class Meta:
        ordering = ["campaign", "-created_at", "pk"]
        verbose_name = _("invalidation")
        verbose_name_plural = _("invalidations")

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.reason}"
