"""Writes of staff sign-in: second factors, recovery codes, sessions.

Every change to an account's second factors is written to the audit trail (``audit.record``,
ids only), as are failed second-factor attempts and the use of a recovery code. Functions that
check a typed code count a failure against the lock-out (``throttle``) and raise
:class:`~gathering.accounts.errors.LockedOutError` while the account name or the address is
locked, without checking the code.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from importlib import import_module
from pathlib import Path
from typing import Any, NoReturn

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from gathering.accounts import passkeys, recovery, session, throttle, totp
from gathering.accounts.errors import (
    DuplicateKeyError,
    DuplicateKeyNameError,
    InvalidCodeError,
    LockedOutError,
    NoPendingSetupError,
    PasskeyError,
    ResetNotAllowedError,
    SignInError,
)
from gathering.accounts.models import (
    SESSION_KEY_CHARS,
    RecoveryCode,
    TotpDevice,
    UserSession,
    WebAuthnCredential,
)
from gathering.audit import services as audit

logger = logging.getLogger(__name__)

TOTP = "totp"
RECOVERY_CODE = "recovery_code"
SECURITY_KEY = "security_key"


# --- sessions -------------------------------------------------------------------------------


def _store() -> type[SessionBase]:
    engine = import_module(settings.SESSION_ENGINE)
    store: type[SessionBase] = engine.SessionStore
    return store


def remember_session(*, user: Any, session_key: str | None, replaces: str | None = None) -> None:
    """Record that ``user`` is signed in with ``session_key`` (replacing ``replaces``, the
    key the session had before it was cycled). Engines without server-side keys (signed
    cookies) give None: nothing to record, nor to end later."""
    if replaces and replaces != session_key:
        UserSession.objects.filter(session_key=replaces).delete()
    if not session_key or len(session_key) > SESSION_KEY_CHARS:
        return  # none, or a signed cookie's whole content: nothing on the server to end
    UserSession.objects.update_or_create(session_key=session_key, defaults={"user": user})
    # Sessions that have long expired by themselves: forget them.
    too_old = timezone.now() - dt.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    UserSession.objects.filter(user=user, created_at__lt=too_old).delete()


def forget_session(*, session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def end_sessions(*, user: Any, request: HttpRequest | None = None, reason: str) -> int:
    """End every session ``user`` signed in with, at once (through the configured session
    engine's store), and say how many there were. Recorded in the audit trail when there were
    any (``account.sessions_ended``)."""
    store = _store()
    keys = list(UserSession.objects.filter(user=user).values_list("session_key", flat=True))
    for key in keys:
        store(session_key=key).delete()
    UserSession.objects.filter(session_key__in=keys).delete()
    if keys:
        audit.record(
            request,
            action="account.sessions_ended",
            obj=user,
            summary=f"sessions={len(keys)}; reason={reason}",
        )
    return len(keys)


def complete_second_factor(request: HttpRequest, *, method: str) -> None:
    """The signed-in user passed their second factor: the session gets a new key (what an
    attacker may have learnt of the old one before this step is now worthless) and records
    the time; the account's failure count is cleared."""
    user = request.user
    old_key = request.session.session_key
    request.session.cycle_key()
    request.session[session.SECOND_FACTOR_SESSION_KEY] = session.now()
    if request.session.session_key is None:
        request.session.save()
    remember_session(user=user, session_key=request.session.session_key, replaces=old_key)
    request.session[session.RECORDED_KEY_SESSION_KEY] = request.session.session_key
    throttle.clear_account(username=user.get_username())
    audit.record(request, action="sign_in_second_factor", summary=f"method={method}")


# --- checking a code ------------------------------------------------------------------------


def _refuse(
    request: HttpRequest, *, user: Any, method: str, error: SignInError | None = None
) -> NoReturn:
    """Count and record one failed second-factor attempt, then raise LockedOutError (this
    one locked) or ``error`` (InvalidCodeError by default)."""
    username = user.get_username()
    locked = throttle.record_failure(request, username=username, stage="second_factor")
    audit.record(request, action="sign_in_second_factor_failed", summary=f"method={method}")
    if locked:
        raise LockedOutError()
    raise error or InvalidCodeError()


def ensure_not_locked(request: HttpRequest, *, user: Any) -> None:
    if throttle.is_locked(request, username=user.get_username()):
        raise LockedOutError()


def _use_totp(user: Any, code: str) -> bool:
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if device is None:
        return False
    step = totp.matching_step(device.secret, code, after_step=device.last_used_step)
    if step is None:
        return False
    # Conditional: of two requests with the same code, one wins.
    return bool(
        TotpDevice.objects.filter(pk=device.pk)
        .filter(Q(last_used_step__isnull=True) | Q(last_used_step__lt=step))
        .update(last_used_step=step)
    )


def _use_recovery_code(request: HttpRequest, user: Any, code: str) -> bool:
    used = RecoveryCode.objects.filter(
        user=user, code_hash__in=recovery.hash_candidates(code), used_at__isnull=True
    ).update(used_at=timezone.now())
    if not used:
        return False
    left = RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()
    audit.record(request, action="second_factor.recovery_code_used", summary=f"left={left}")
    return True


def check_code(request: HttpRequest, *, user: Any, code: str) -> str:
    """Check a typed second-factor code of ``user``: the current code of their authenticator
    app (6 digits, not used before) or one of their unused recovery codes (then used up).
    Returns the method that matched; raises LockedOutError or InvalidCodeError."""
    ensure_not_locked(request, user=user)
    digits = totp.normalise_digits(code)
    if len(digits) == totp.DIGITS and digits.isascii() and digits.isdigit():
        if _use_totp(user, digits):
            return TOTP
        _refuse(request, user=user, method=TOTP)
    candidate = recovery.normalise(code)
    if not recovery.is_well_formed(candidate):
        _refuse(request, user=user, method="code")  # neither shape: a typo, or garbage
    if _use_recovery_code(request, user, candidate):
        return RECOVERY_CODE
    _refuse(request, user=user, method=RECOVERY_CODE)


def check_security_key(request: HttpRequest, *, user: Any, credential: object) -> str:
    """Check the browser's answer of a security key of ``user`` (see ``passkeys``); counts a
    failure like a wrong code."""
    ensure_not_locked(request, user=user)
    try:
        key, sign_count = passkeys.verify_authentication(request, user=user, credential=credential)
    except PasskeyError as error:
        _refuse(request, user=user, method=SECURITY_KEY, error=error)
    WebAuthnCredential.objects.filter(pk=key.pk).update(
        sign_count=sign_count, last_used_at=timezone.now()
    )
    return SECURITY_KEY


# --- the authenticator app ------------------------------------------------------------------


def pending_totp(*, user: Any) -> TotpDevice:
    """The authenticator being set up for ``user``, created on first call (its secret stays
    the same until confirmed, so that reloading the page does not invalidate a scanned code)."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is not None:
        return device
    try:
        with transaction.atomic():
            return TotpDevice.objects.create(user=user, secret=totp.generate_secret())
    except IntegrityError:  # created by a request of the same account just now
        return TotpDevice.objects.get(user=user, confirmed_at__isnull=True)


def confirm_totp(request: HttpRequest, *, user: Any, code: str) -> list[str]:
    """Confirm the pending authenticator of ``user`` with a code it shows: it replaces the
    confirmed one, if any. Returns new recovery codes (shown once) when the account had none
    left, else []. Raises NoPendingSetupError or InvalidCodeError (not counted against the
    lock-out: the person is already signed in, or setting up their first factor)."""
    device = TotpDevice.objects.filter(user=user, confirmed_at__isnull=True).first()
    if device is None:
        raise NoPendingSetupError()
    step = totp.matching_step(device.secret, totp.normalise_digits(code))
    if step is None:
        raise InvalidCodeError()
    with transaction.atomic():
        replaced = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).delete()[0]
        confirmed = TotpDevice.objects.filter(pk=device.pk, confirmed_at__isnull=True).update(
            confirmed_at=timezone.now(), last_used_step=step
        )
        if not confirmed:
            raise NoPendingSetupError()
        audit.record(
            request,
            action="second_factor.totp_replaced" if replaced else "second_factor.totp_enrolled",
            obj=user,
        )
        if RecoveryCode.objects.filter(user=user, used_at__isnull=True).exists():
            return []
        return _new_recovery_codes(request, user=user)


# --- recovery codes -------------------------------------------------------------------------


def _new_recovery_codes(request: HttpRequest, *, user: Any) -> list[str]:
    codes = recovery.generate_codes()
    RecoveryCode.objects.filter(user=user).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user=user, code_hash=recovery.hash_code(code)) for code in codes
    )
    audit.record(
        request, action="second_factor.recovery_codes_generated", obj=user, summary="count=10"
    )
    return codes


@transaction.atomic
def regenerate_recovery_codes(request: HttpRequest, *, user: Any) -> list[str]:
    """New recovery codes for ``user``; the old ones stop working. Returns them (to be shown
    once: only their hashes are kept)."""
    return _new_recovery_codes(request, user=user)


# --- security keys --------------------------------------------------------------------------


def add_security_key(request: HttpRequest, *, user: Any, name: str, credential: object) -> Any:
    """Register the security key the browser created (see ``passkeys``) under ``name``.
    Raises PasskeyError, DuplicateKeyError or DuplicateKeyNameError."""
    if WebAuthnCredential.objects.filter(user=user, name=name).exists():
        # Checked before the ceremony's answer: the challenge stays usable for another name.
        raise DuplicateKeyNameError()
    verified, transports, handle = passkeys.verify_registration(request, credential=credential)
    credential_id = passkeys.credential_id_text(verified.credential_id)
    if len(credential_id) > 1400:
        raise PasskeyError()
    try:
        with transaction.atomic():
            key = WebAuthnCredential.objects.create(
                user=user,
                name=name,
                credential_id=credential_id,
                public_key=verified.credential_public_key,
                sign_count=verified.sign_count,
                transports=transports,
                user_handle=handle,
            )
            audit.record(request, action="second_factor.key_added", obj=key)
    except IntegrityError as error:
        if WebAuthnCredential.objects.filter(user=user, name=name).exists():
            raise DuplicateKeyNameError() from error
        raise DuplicateKeyError() from error
    return key


@transaction.atomic
def remove_security_key(request: HttpRequest, *, user: Any, key_id: int) -> bool:
    """Remove one of ``user``'s own security keys; False if there is no such key."""
    key = WebAuthnCredential.objects.filter(user=user, pk=key_id).first()
    if key is None:
        return False
    audit.record(request, action="second_factor.key_removed", obj=key)
    key.delete()
    return True


# --- organisers -----------------------------------------------------------------------------


def reset_second_factors(request: HttpRequest | None, *, user: Any, by: Any = None) -> None:
    """Remove every second factor of ``user`` (authenticator app, security keys, recovery
    codes) and end their sessions: at their next sign-in they set up a new authenticator.
    ``by`` is the organiser doing it (None: the command line). A staff member cannot reset
    their own account this way (ResetNotAllowedError): they would lose their session."""
    if by is not None and by.pk == user.pk:
        raise ResetNotAllowedError()
    with transaction.atomic():
        counts = {
            "totp": TotpDevice.objects.filter(user=user).delete()[0],
            "keys": WebAuthnCredential.objects.filter(user=user).delete()[0],
            "codes": RecoveryCode.objects.filter(user=user).delete()[0],
        }
        audit.record(
            request,
            action="second_factor.reset",
            obj=user,
            actor=by,
            actor_username="" if by is not None or request is not None else "(command line)",
            summary="; ".join(f"{name}={count}" for name, count in counts.items()),
        )
    end_sessions(user=user, request=request, reason="second_factor_reset")


# --- the demo -------------------------------------------------------------------------------

DEMO_AUTHENTICATOR_FILE = "staff-authenticator.txt"


def ensure_demo_authenticator(*, user: Any, data_dir: Path) -> str:
    """Demo only (``gathering setup`` with the demo, as ``make run`` does): give the demo
    organiser an authenticator app whose key is kept in ``<data>/staff-authenticator.txt``
    (mode 600), beside its password, so that whoever runs the demo can sign in (with any
    authenticator app, or ``gathering demo_sign_in_code``). A real installation has no such
    file: its staff set up their own app at their first sign-in.

    Returns what to print: the key, or why there is none to print."""
    key_file = data_dir / DEMO_AUTHENTICATOR_FILE
    confirmed = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    kept = key_file.read_text().strip() if key_file.exists() else ""
    if confirmed is not None:
        if kept and confirmed.secret == kept:
            return kept
        return "(changed since it was generated: see the security page)"
    if WebAuthnCredential.objects.filter(user=user).exists():
        return "(a security key is registered)"
    secret = totp.generate_secret()
    with transaction.atomic():
        TotpDevice.objects.filter(user=user).delete()
        TotpDevice.objects.create(
            user=user, secret=secret, confirmed_at=timezone.now(), last_used_step=None
        )
    descriptor = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secret + "\n")
    return secret


def demo_sign_in_code(*, user: Any, data_dir: Path) -> str | None:
    """The current code of the demo organiser's authenticator (see
    :func:`ensure_demo_authenticator`), or None when the file is missing or no longer the
    account's key."""
    key_file = data_dir / DEMO_AUTHENTICATOR_FILE
    if not key_file.exists():
        return None
    kept = key_file.read_text().strip()
    confirmed = TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first()
    if confirmed is None or confirmed.secret != kept:
        return None
    return totp.current_code(kept)
