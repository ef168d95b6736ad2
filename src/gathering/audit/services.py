"""Writing the audit trail: :func:`record`, called by staff views, the back office (through
``receivers`` and ``mixins``) and sign-in signals.

Failure policy: an event is written in the request, before the response, in the same
transaction as the change it records where there is one (the back office's ``LogEntry`` is
saved inside the admin's transaction). It is not caught: if it cannot be written, the request
fails with a 500 and a read of personal data is refused rather than left unrecorded. That only
happens when the database itself is failing, when the request could not succeed anyway.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import unicodedata
from typing import Any

from django.db import transaction
from django.db.models import F, Model
from django.http import HttpRequest
from django.utils import timezone

from gathering.abuse.client import UNKNOWN, client_ip
from gathering.audit import exports
from gathering.audit.errors import (
    AlreadyDecidedError,
    DownloadExpiredError,
    ExportNotAllowedError,
    NotApprovedError,
    NotApproverError,
    OwnRequestError,
    RequestTooOldError,
)
from gathering.audit.models import SUMMARY_CHARS, USER_AGENT_CHARS, AuditEvent, ExportRequest

logger = logging.getLogger(__name__)


def object_type_of(obj: Model | type[Model]) -> str:
    """``"app_label.model"``, as permissions and content types name a model."""
    return obj._meta.label_lower


def _actor(request: HttpRequest | None, actor: Any) -> Any:
    if actor is not None:
        return actor
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and user.is_authenticated:
        return user
    return None


def _text(value: object, limit: int) -> str:
    # Control characters (NUL above all: PostgreSQL refuses it in text) come from headers and
    # typed usernames; they are dropped rather than failing the request being recorded.
    return "".join(c for c in str(value) if unicodedata.category(c) != "Cc")[:limit]


def _ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    address = client_ip(request)
    if address == UNKNOWN:
        return None
    # Stored as text by the field; an IPv6 address in its compressed form.
    return str(ipaddress.ip_address(address))


def record(
    request: HttpRequest | None,
    *,
    action: str,
    obj: Model | None = None,
    object_type: str = "",
    object_id: str = "",
    summary: str = "",
    actor: Any = None,
    actor_username: str = "",
) -> AuditEvent:
    """Append one event: who (``actor``, else the request's signed-in user), what (``action``,
    a short code such as ``"registration.view"``, and the object), when (now) and from where
    (the client address as ``abuse.client.client_ip`` computes it behind trusted proxies, and
    the user agent, truncated).

    ``summary`` must hold ids and field names only, never values of personal data. Raises
    what the database raises (see the module docstring)."""
    if obj is not None:
        object_type = object_type or object_type_of(obj)
        object_id = object_id or ("" if obj.pk is None else str(obj.pk))
    who = _actor(request, actor)
    username = actor_username or (who.get_username() if who is not None else "")
    agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    event = AuditEvent.objects.create(
        actor=who,
        actor_username=_text(username, 150),
        action=_text(action, 64),
        object_type=_text(object_type, 100),
        object_id=_text(object_id, 64),
        summary=_text(summary, SUMMARY_CHARS),
        ip=_ip(request),
        user_agent=_text(agent, USER_AGENT_CHARS),
    )
    logger.info("audit event_id=%s action=%s", event.pk, event.action)
    return event


# --- export requests (see ``exports``) --------------------------------------------------------

APPROVE = "audit.approve_exportrequest"


def request_export(
    request: HttpRequest | None, *, user: Any, kind: str, data: Any, reason: str
) -> ExportRequest:
    """Record ``user``'s request for the ``kind`` export of ``data`` (as posted), with
    ``reason``. Raises ExportParamsError (bad kind or parameters) and ExportNotAllowedError."""
    export_kind = exports.get_kind(kind)
    params, description = export_kind.clean(user, data)
    if not export_kind.allowed(user, params):
        raise ExportNotAllowedError
    with transaction.atomic():
        export = ExportRequest.objects.create(
            kind=export_kind.code,
            params=params,
            description=description[:300],
            reason=reason,
            requested_by=user,
        )
        record(request, action="export.request", obj=export, summary=f"kind={export.kind}")
    logger.info("export request_id=%s kind=%s by user_id=%s", export.pk, export.kind, user.pk)
    return export


def decide_export(
    request: HttpRequest | None,
    *,
    export: ExportRequest,
    user: Any,
    approve: bool,
    note: str = "",
    at: dt.datetime | None = None,
) -> ExportRequest:
    """Approve or refuse a pending request: ``user`` must be an organiser
    (``audit.approve_exportrequest``) other than the one who asked. Raises NotApproverError,
    OwnRequestError, AlreadyDecidedError and RequestTooOldError."""
    moment = at or timezone.now()
    if not user.has_perm(APPROVE):
        raise NotApproverError
    if export.requested_by_id == user.pk:
        raise OwnRequestError
    if approve and export.requested_at + exports.DECISION_WINDOW <= moment:
        raise RequestTooOldError
    status = ExportRequest.Status.APPROVED if approve else ExportRequest.Status.REFUSED
    with transaction.atomic():
        # One UPDATE that only a pending request matches: two organisers deciding at once
        # cannot both succeed.
        decided = (
            ExportRequest.objects.filter(pk=export.pk, status=ExportRequest.Status.PENDING)
            .exclude(requested_by=user)
            .update(
                status=status,
                decided_by=user,
                decided_at=moment,
                decision_note=note[:500],
                expires_at=moment + exports.DOWNLOAD_WINDOW if approve else None,
            )
        )
        if not decided:
            raise AlreadyDecidedError
        record(
            request,
            action="export.approve" if approve else "export.refuse",
            obj=export,
            summary=f"kind={export.kind} requested_by={export.requested_by_id}",
        )
    logger.info("export request_id=%s %s by user_id=%s", export.pk, status, user.pk)
    export.refresh_from_db()
    return export


def withdraw_export(
    request: HttpRequest | None, *, export: ExportRequest, user: Any
) -> ExportRequest:
    """The one who asked withdraws a request still waiting. Raises AlreadyDecidedError."""
    with transaction.atomic():
        withdrawn = ExportRequest.objects.filter(
            pk=export.pk, status=ExportRequest.Status.PENDING, requested_by=user
        ).update(status=ExportRequest.Status.WITHDRAWN, decided_at=timezone.now())
        if not withdrawn:
            raise AlreadyDecidedError
        record(request, action="export.withdraw", obj=export, summary=f"kind={export.kind}")
    export.refresh_from_db()
    return export


def download_export(
    request: HttpRequest | None,
    *,
    export: ExportRequest,
    user: Any,
    language: str,
    at: dt.datetime | None = None,
) -> exports.ExportFile:
    """The approved export's file for the one who asked, counting one download. Raises
    NotApprovedError (waiting, refused, withdrawn), DownloadExpiredError (after the window or
    the last download), ExportNotAllowedError (their role no longer allows it) and
    ExportParamsError (nothing left to export)."""
    moment = at or timezone.now()
    if export.requested_by_id != user.pk:
        raise ExportNotAllowedError
    if export.status != ExportRequest.Status.APPROVED:
        raise NotApprovedError
    kind = exports.get_kind(export.kind)
    if not kind.allowed(user, export.params):
        raise ExportNotAllowedError
    with transaction.atomic():
        # Counted in one conditional UPDATE: parallel downloads cannot exceed the limit.
        counted = ExportRequest.objects.filter(
            pk=export.pk,
            status=ExportRequest.Status.APPROVED,
            expires_at__gt=moment,
            download_count__lt=exports.MAX_DOWNLOADS,
        ).update(download_count=F("download_count") + 1, last_download_at=moment)
        if not counted:
            raise DownloadExpiredError
        file = kind.build(export.params, language=language)
        record(
            request,
            action="export.download",
            obj=export,
            summary=f"kind={export.kind} download={export.download_count + 1}",
        )
    logger.info("export request_id=%s downloaded by user_id=%s", export.pk, user.pk)
    return file
