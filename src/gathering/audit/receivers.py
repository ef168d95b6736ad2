"""What the trail hears without being called: the back office's own log of changes and the
sign-in signals."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.models.signals import post_save
from django.dispatch import receiver
from django.http import HttpRequest

from gathering.audit import services
from gathering.audit.middleware import current_request

_ADMIN_ACTIONS = {ADDITION: "admin.add", CHANGE: "admin.change", DELETION: "admin.delete"}


def summarise_change_message(raw: str) -> str:
    """The field and model names of a ``LogEntry.change_message``, never its ``object`` or
    ``name`` values of inline rows (an inline row's text may be a person's name). A message
    that is not Django's JSON (free text written by code) is left out entirely."""
    try:
        parts = json.loads(raw) if raw else []
    except ValueError:
        return ""
    if not isinstance(parts, list):
        return ""
    out: list[str] = []
    for part in parts:
        if not isinstance(part, dict):
            continue
        for verb in ("added", "changed", "deleted"):
            detail = part.get(verb)
            if not isinstance(detail, dict):
                continue
            fields = detail.get("fields")
            names = (
                [str(f) for f in fields if isinstance(f, str)] if isinstance(fields, list) else []
            )
            # An inline row carries "name" (its model's verbose name, not personal) and "object"
            # (its text, possibly personal: left out).
            inline = detail.get("name") if "object" in detail else None
            label = f"{verb} {inline}" if isinstance(inline, str) else verb
            out.append(f"{label}: {', '.join(names)}" if names else label)
    return "; ".join(out)


@receiver(post_save, sender=LogEntry, dispatch_uid="audit-admin-logentry")
def record_admin_log_entry(sender: Any, instance: LogEntry, created: bool, **_kwargs: Any) -> None:
    if not created:
        return
    content_type = instance.content_type
    services.record(
        current_request(),
        action=_ADMIN_ACTIONS.get(instance.action_flag, "admin.other"),
        object_type=f"{content_type.app_label}.{content_type.model}" if content_type else "",
        object_id=instance.object_id or "",
        summary=summarise_change_message(instance.change_message),
        actor=instance.user,
    )


@receiver(user_logged_in, dispatch_uid="audit-sign-in")
def record_sign_in(sender: Any, request: HttpRequest | None, user: Any, **_kwargs: Any) -> None:
    services.record(request, action="sign_in", actor=user)


@receiver(user_logged_out, dispatch_uid="audit-sign-out")
def record_sign_out(sender: Any, request: HttpRequest | None, user: Any, **_kwargs: Any) -> None:
    if user is None:
        return  # nobody was signed in
    services.record(request, action="sign_out", actor=user)


@receiver(user_login_failed, dispatch_uid="audit-sign-in-failed")
def record_sign_in_failed(
    sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None, **_kwargs: Any
) -> None:
    # Django already masks the password in ``credentials``; only the username is kept anyway.
    username = credentials.get("username")
    services.record(
        request,
        action="sign_in_failed",
        actor_username=username if isinstance(username, str) else "",
    )


# --- the SQLite trigger's lock (migrations/0002) ---------------------------------------------

_unlocked = 0


class unlocked:  # noqa: N801  (used as a context manager, like a function)
    """Lets DELETE through the SQLite trigger for the duration (``manage.py flush`` only)."""

    def __enter__(self) -> None:
        global _unlocked
        _unlocked += 1

    def __exit__(self, *_exc: object) -> None:
        global _unlocked
        _unlocked -= 1


def _is_unlocked() -> int:
    return 1 if _unlocked > 0 else 0


@receiver(connection_created, dispatch_uid="audit-sqlite-lock")
def register_sqlite_lock(sender: Any, connection: BaseDatabaseWrapper, **_kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_function("gathering_audit_unlocked", 0, _is_unlocked)
