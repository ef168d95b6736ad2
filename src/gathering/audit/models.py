"""One row per staff action or read of personal data. Append-only: the model refuses to save
an existing row or to delete one, and the migration installs database triggers (PostgreSQL,
SQLite) that refuse UPDATE and DELETE on the table, so neither the application nor a stray
``queryset.update()`` / ``queryset.delete()`` can rewrite history.

``summary`` holds ids and field names only, never values: the trail must not become a second
copy of the personal data it watches over (and must outlive that data's retention)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gathering.audit.errors import AppendOnlyError

USER_AGENT_CHARS = 200
SUMMARY_CHARS = 500


class AuditEvent(models.Model):
    at = models.DateTimeField(_("at"), default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("actor"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # A copy: the account may be deleted (or renamed) later, the trail must still say who.
    actor_username = models.CharField(_("actor's username"), max_length=150, blank=True)
    action = models.CharField(_("action"), max_length=64, db_index=True)
    object_type = models.CharField(_("object type"), max_length=100, blank=True, db_index=True)
    object_id = models.CharField(_("object id"), max_length=64, blank=True)
    summary = models.CharField(_("summary"), max_length=SUMMARY_CHARS, blank=True)
    ip = models.GenericIPAddressField(_("address"), null=True, blank=True)
    user_agent = models.CharField(_("user agent"), max_length=USER_AGENT_CHARS, blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = ["-at", "-pk"]
        default_permissions = ("view",)

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.actor_username or '-'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events cannot be deleted")


class ExportRequest(models.Model):
    """A request for a bulk export of personal data (``audit/exports.py`` lists the kinds).

    One member of staff asks, with a reason; an organiser other than them approves or refuses
    it; once approved, the one who asked may download it ``MAX_DOWNLOADS`` times within
    ``DOWNLOAD_WINDOW`` of the approval (``services``). ``params`` and ``description`` hold ids,
    choices and titles only, never personal data. Every step is also an audit event."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting for approval")
        APPROVED = "approved", _("Approved")
        REFUSED = "refused", _("Refused")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    kind = models.CharField(_("export"), max_length=40)
    params = models.JSONField(_("parameters"), default=dict)
    description = models.CharField(_("what"), max_length=300)
    reason = models.TextField(_("reason"), max_length=1000)
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("requested"), default=timezone.now)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decision_note = models.CharField(_("note on the decision"), max_length=500, blank=True)
    expires_at = models.DateTimeField(_("download possible until"), null=True, blank=True)
    download_count = models.PositiveSmallIntegerField(_("downloads"), default=0)
    last_download_at = models.DateTimeField(_("last downloaded"), null=True, blank=True)

    class Meta:
        verbose_name = _("export request")
        verbose_name_plural = _("export requests")
        ordering = ["-requested_at", "-pk"]
        # Nobody is granted add/change/delete: requests are made and decided on their pages.
        default_permissions = ()
        permissions = [("approve_exportrequest", _("Can approve bulk exports of personal data"))]
        indexes = [models.Index(fields=["status", "requested_at"], name="exportrequest_status")]
        constraints = [
            # Four eyes, in the database too: nobody decides on their own request.
            models.CheckConstraint(
                condition=~Q(decided_by=F("requested_by")), name="exportrequest_other_decides"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved")
                | Q(expires_at__isnull=False, decided_by__isnull=False),
                name="exportrequest_approved_has_window",
            ),
        ]

    def __str__(self) -> str:
        return f"{_('Export request')} #{self.pk}"
