"""Records of the privacy app: the data-subject requests that staff handled.

A person may ask the organisers, by letter or email, to see or to erase what is stored about
them. Staff look the person up by email address on their page (``views.py``); each look-up,
export and erasure is one row here, and one event of the audit trail. The address itself is
never stored: only a keyed hash of its canonical form (``services.requests.request_email_hash``),
enough to tell that two requests came for the same address.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

REFERENCE_MAX_LENGTH = 120


class DataSubjectRequest(models.Model):
    class Kind(models.TextChoices):
        LOOKUP = "lookup", _("Look-up")
        ACCESS = "access", _("Access (export)")
        ERASURE = "erasure", _("Erasure")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    reference = models.CharField(
        _("reference"),
        max_length=REFERENCE_MAX_LENGTH,
        help_text=_("Where the request came from, such as a letter's date or a ticket number."),
    )
    # Keyed hash (HMAC, blind-index key) of the canonical address; never the address.
    email_hash = models.CharField(max_length=64, db_index=True, editable=False)
    # The edition the request was limited to; NULL: every edition.
    edition_year = models.PositiveSmallIntegerField(_("edition"), null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        related_name="+",
        verbose_name=_("handled by"),
    )
    # A copy: the account may be renamed or deleted later.
    handled_by_username = models.CharField(_("handled by (username)"), max_length=150)
    handled_at = models.DateTimeField(_("handled"), default=now, db_index=True)
    # Records found (and, for an erasure, erased) by kind: counts only, never values.
    found = models.JSONField(_("records found"), default=dict)
    erased = models.JSONField(_("records erased"), default=dict)

    class Meta:
        ordering = ["-handled_at", "-pk"]
        verbose_name = _("data-subject request")
        verbose_name_plural = _("data-subject requests")
        default_permissions = ()
        # "<action>_<model>", as core/roles.py grants it ("handle").
        permissions = [("handle_datasubjectrequest", _("Can handle data-subject requests"))]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk}"
