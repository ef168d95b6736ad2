"""Signals: sign-in starts a session's clocks and records its key; an account saved as
disabled (in the back office, a service, the shell: any ``save()``) or deleted loses every
session at once. ``QuerySet.update(is_active=False)`` sends no signal: call
``services.end_sessions`` after one."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.db.models.signals import post_save, pre_delete
from django.dispatch import receiver
from django.http import HttpRequest

from gathering.accounts import services, session
from gathering.audit.middleware import current_request


@receiver(user_logged_in, dispatch_uid="accounts-signed-in")
def start_session(sender: Any, request: HttpRequest | None, user: Any, **_kwargs: Any) -> None:
    if request is None or not hasattr(request, "session"):
        return
    session.start(request.session)
    if request.session.session_key is None:
        request.session.save()
    services.remember_session(user=user, session_key=request.session.session_key)
    request.session[session.RECORDED_KEY_SESSION_KEY] = request.session.session_key


@receiver(user_logged_out, dispatch_uid="accounts-signed-out")
def forget_session(sender: Any, request: HttpRequest | None, user: Any, **_kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        services.forget_session(session_key=request.session.session_key)


@receiver(post_save, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts-disabled")
def end_sessions_of_disabled_account(
    sender: Any, instance: Any, created: bool, **_kwargs: Any
) -> None:
    if not created and not instance.is_active:
        services.end_sessions(user=instance, request=current_request(), reason="disabled")


@receiver(pre_delete, sender=settings.AUTH_USER_MODEL, dispatch_uid="accounts-deleted")
def end_sessions_of_deleted_account(sender: Any, instance: Any, **_kwargs: Any) -> None:
    services.end_sessions(user=instance, request=current_request(), reason="deleted")
