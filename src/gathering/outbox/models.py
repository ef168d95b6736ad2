"""The outbox: emails queued by services in their own transaction, sent later by the worker.

One row per email. The recipient and the rendering context are personal data (and the context
may carry private-link tokens, which are secrets), so both are encrypted at rest
(``core/crypto.py``) and erased once the email is sent or cancelled; the row itself stays
(kind, language, times, status, attempts) as an audit trail that names nobody.

Life of a row::

    pending ──claim──▶ sending ──SMTP accepted──▶ sent        (recipient, context erased)
       ▲                  │  ├───temporary error──▶ pending   (send_after pushed back)
       │                  │  └───permanent error / 5th failure──▶ failed (kept for requeueing)
       └──requeue─────────┴──lease expired (worker died)──▶ failed "in doubt" (never resent
                                                           automatically: at most once)
    pending / failed ──cancel──▶ cancelled  (erased)
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.timezone import now
from django.utils.translation import gettext_lazy as _

from gathering.core.crypto import EncryptedJSONField, EncryptedTextField


class OutboxEmail(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be sent")
        SENDING = "sending", _("Being sent")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    # A name registered in ``outbox.kinds`` ("registration.confirm"): its builder renders it.
    kind = models.CharField(_("kind"), max_length=64)
    language = models.CharField(_("language"), max_length=8)
    # Personal data and secrets: encrypted at rest, NULL once sent or cancelled.
    recipient = EncryptedTextField(_("recipient"), null=True)
    context = EncryptedJSONField(_("context"), null=True)
    # The email's Message-ID (<uuid@domain>): the same for every attempt, so a receiver can
    # recognise a duplicate, and kept after erasure to match bounces to this row.
    message_id = models.UUIDField(_("message id"), default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(_("queued"), default=now, editable=False)
    send_after = models.DateTimeField(_("send after"), default=now)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    # Exception class and SMTP code only: server replies may quote the address.
    last_error = models.CharField(_("last error"), max_length=200, blank=True)
    # Lease of the worker that claimed the row (status "sending"); NULL otherwise.
    claimed_until = models.DateTimeField(_("claimed until"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("outgoing email")
        verbose_name_plural = _("outgoing emails")
        # Partial indexes: queueing maintains only the small "due" index (plus the primary
        # key), and sent rows, which pile up, are in neither.
        indexes = [
            models.Index(
                fields=["send_after", "id"],
                condition=Q(status="pending"),
                name="outbox_due",
            ),
            models.Index(
                fields=["claimed_until"],
                condition=Q(status="sending"),
                name="outbox_leases",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} #{self.pk} ({self.status})"
