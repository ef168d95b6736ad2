"""Writing the audit trail: :func:`record`, called by staff views, the back office (through
``receivers`` and ``mixins``) and sign-in signals.

Failure policy: an event is written in the request, before the response, in the same
transaction as the change it records where there is one (the back office's ``LogEntry`` is
saved inside the admin's transaction). It is not caught: if it cannot be written, the request
fails with a 500 and a read of personal data is refused rather than left unrecorded. That only
happens when the database itself is failing, when the request could not succeed anyway.
"""

from __future__ import annotations

import ipaddress
import logging
import unicodedata
from typing import Any

from django.db.models import Model
from django.http import HttpRequest

from gathering.abuse.client import UNKNOWN, client_ip
from gathering.audit.models import SUMMARY_CHARS, USER_AGENT_CHARS, AuditEvent

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
