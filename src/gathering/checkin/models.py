"""Gate check-in: the gates of an edition, their scanning devices, and every scan made there.

A scan names its ticket by the ticket id (16 hex digits) only, never by a foreign key to the
registration: the check-in tables hold no personal data and no path to it. ``TicketPresence``
holds, per ticket, whether it is inside; services lock that row to decide who was first.
Writes go through ``services.py``.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from gathering.core.translated import TranslatedField
from gathering.program.models import Edition


class Gate(models.Model):
    """An entrance of an edition's venue (or of one of its satellite sites), where staff scan
    tickets."""

    edition = models.ForeignKey(
        Edition, on_delete=models.CASCADE, related_name="gates", verbose_name=_("edition")
    )
    name = TranslatedField(_("name"), max_length=100)
    slug = models.SlugField(_("short name in URLs"), max_length=50)
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    # NULL for the main venue's gates; a satellite site that checks tickets has its own.
    site = models.ForeignKey(
        "satellites.Site",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="gates",
        verbose_name=_("satellite site"),
        help_text=_("Empty for a gate of the main venue."),
    )

    class Meta:
        ordering = ["edition", "position", "slug"]
        verbose_name = _("gate")
        verbose_name_plural = _("gates")
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "slug"], name="checkin_gate_slug_per_edition"
            )
        ]

    def __str__(self) -> str:
        return str(self.name) or self.slug

    def clean(self) -> None:
        if self.site_id and self.site and self.site.edition_id != self.edition_id:
            raise ValidationError({"site": _("This site belongs to another edition.")})


class GateDevice(models.Model):
    """A scanner other than the web app (a hand-held terminal, a turnstile) that signs in to the
    check-in API with a bearer token. Only the token's SHA-256 is stored; the token is shown
    once, when the device is created (``services.create_gate_device``)."""

    gate = models.ForeignKey(
        Gate, on_delete=models.CASCADE, related_name="devices", verbose_name=_("gate")
    )
    label = models.CharField(_("label"), max_length=100)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    revoked = models.BooleanField(
        _("revoked"), default=False, help_text=_("A revoked device can no longer scan.")
    )
    created_at = models.DateTimeField(_("created"), default=now, editable=False)

    class Meta:
        ordering = ["gate", "label", "pk"]
        verbose_name = _("gate device")
        verbose_name_plural = _("gate devices")

    def __str__(self) -> str:
        return self.label


class Direction(models.TextChoices):
    ENTRY = "entry", _("Entry")
    EXIT = "exit", _("Exit")


class ScanStatus(models.TextChoices):
    """A scan's outcome. The first eight are the offline verdicts of ``ticket_codes``; the rest
    need the server's knowledge (the ticket's existence and who is inside)."""

    VALID = "valid", _("Valid")
    MALFORMED = "malformed", _("Unreadable code")
    UNKNOWN_KEY = "unknown_key", _("Unknown key")
    FORGED = "forged", _("Forged")
    REVOKED = "revoked", _("Revoked")
    WRONG_EDITION = "wrong_edition", _("Wrong year")
    NOT_YET_VALID = "not_yet_valid", _("Not valid yet")
    EXPIRED = "expired", _("Expired")
    UNKNOWN_TICKET = "unknown_ticket", _("Unknown ticket")
    ALREADY_INSIDE = "already_inside", _("Already entered")
    ALREADY_LEFT = "already_left", _("Already left")
    NOT_INSIDE = "not_inside", _("Never entered")


class Scan(models.Model):
    """One scan at a gate, whatever its outcome: the check-in log.

    ``nonce`` is chosen by the scanner for each scan and sent again on every retry, so a retry
    finds the stored scan instead of scanning twice. ``device_time`` is the scanner's clock,
    kept for the record but never used to order scans: ``server_time`` is. A scan that found
    the ticket already inside (or already out) points at the scan that put it there through
    ``duplicate_of``.
    """

    # Every check-in writes a row here and in each of its indexes: the table keeps only the
    # indexes that reads use. Edition and gate are the first columns of the time indexes
    # below; staff, duplicate_of and last_scan (TicketPresence) are only followed from the
    # row, and a scan is never deleted (staff accounts seldom: that search may be slow).
    edition = models.ForeignKey(
        Edition,
        on_delete=models.PROTECT,
        related_name="scans",
        verbose_name=_("edition"),
        db_index=False,
    )
    gate = models.ForeignKey(
        Gate, on_delete=models.PROTECT, related_name="scans", verbose_name=_("gate"), db_index=False
    )
    # Empty when the code could not be read or its signature did not hold: its content is
    # then not to be trusted, not even as a ticket id.
    ticket_id = models.CharField(_("ticket id"), max_length=16, blank=True)
    category_code = models.PositiveSmallIntegerField(_("category code"), null=True, blank=True)
    direction = models.CharField(_("direction"), max_length=5, choices=Direction.choices)
    status = models.CharField(_("result"), max_length=16, choices=ScanStatus.choices)
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    nonce = models.CharField(_("client nonce"), max_length=64)
    # SHA-256 of the scanned text: tells a genuine retry from a nonce reused for another code,
    # without keeping the code itself (a valid code is as good as the ticket).
    code_digest = models.CharField(max_length=64, editable=False)
    device = models.ForeignKey(
        GateDevice,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="scans",
        verbose_name=_("gate device"),
    )
    scanned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("staff member"),
        db_index=False,
    )
    scanner_id = models.CharField(_("scanner id"), max_length=64, blank=True)
    device_time = models.DateTimeField(_("scanner time"), null=True, blank=True)
    offline = models.BooleanField(
        _("decided offline"),
        default=False,
        help_text=_("The scanner decided without the server and sent the scan later."),
    )
    server_time = models.DateTimeField(_("server time"), default=now)
    duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("duplicate of"),
        db_index=False,
    )

    class Meta:
        ordering = ["server_time", "pk"]
        verbose_name = _("scan")
        verbose_name_plural = _("scans")
        # Declared here rather than with unique/db_index on the fields: those would add a
        # second, LIKE-pattern index of each on PostgreSQL, which no query uses.
        constraints = [models.UniqueConstraint(fields=["nonce"], name="checkin_scan_nonce")]
        indexes = [
            models.Index(fields=["edition", "server_time"], name="checkin_scan_edition_time"),
            models.Index(fields=["gate", "server_time"], name="checkin_scan_gate_time"),
            models.Index(fields=["ticket_id"], name="checkin_scan_ticket_id"),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id or '-'} {self.direction} {self.status}"

    @property
    def accepted(self) -> bool:
        return self.status == ScanStatus.VALID


class TicketPresence(models.Model):
    """Whether a ticket is inside the venue, and the valid scan that last changed that.

    One row per ticket that ever scanned valid. ``services.record_scan`` locks it (SELECT …
    FOR UPDATE) while deciding, so concurrent scans of one ticket are decided one after the
    other and the first valid entry wins.
    """

    # No index of their own: the unique (edition, ticket_id) index starts with the edition, and
    # last_scan is only followed from the row (see Scan).
    edition = models.ForeignKey(
        Edition,
        on_delete=models.CASCADE,
        related_name="+",
        verbose_name=_("edition"),
        db_index=False,
    )
    ticket_id = models.CharField(_("ticket id"), max_length=16)
    inside = models.BooleanField(_("inside"), default=False)
    last_scan = models.ForeignKey(
        Scan,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("last scan"),
        db_index=False,
    )

    class Meta:
        verbose_name = _("ticket presence")
        verbose_name_plural = _("ticket presences")
        constraints = [
            models.UniqueConstraint(
                fields=["edition", "ticket_id"], name="checkin_one_presence_per_ticket"
            ),
            models.CheckConstraint(
                condition=~Q(ticket_id=""), name="checkin_presence_has_ticket_id"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.ticket_id} {'in' if self.inside else 'out'}"
