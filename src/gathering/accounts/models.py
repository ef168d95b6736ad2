"""Second factors of staff accounts, their sessions, and the counters of failed sign-ins.

Nothing here lets a reader of the database sign in: the authenticator secret is encrypted
(``core/crypto.py``, key outside the database), recovery codes are stored as keyed hashes, a
security key's public key is public by nature, and throttle counters know usernames and
addresses only as keyed hashes.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from gathering.core.crypto import EncryptedTextField

# A credential id is at most 1023 bytes (WebAuthn level 3): 1364 characters of base64url.
CREDENTIAL_ID_CHARS = 1400
KEY_NAME_CHARS = 64
SESSION_KEY_CHARS = 64


class TotpDevice(models.Model):
    """An authenticator app. Each account has at most one confirmed device (the one that signs
    in) and one pending (being set up: enrolment, or its replacement until confirmed)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="totp_devices",
    )
    secret = EncryptedTextField(_("secret"))
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True)
    # Replay protection: a code of this step or an earlier one is refused.
    last_used_step = models.BigIntegerField(_("last step used"), null=True, blank=True)

    class Meta:
        verbose_name = _("authenticator app")
        verbose_name_plural = _("authenticator apps")
        default_permissions = ()
        # "reset": organisers reset another staff member's second factors (core/roles.py).
        permissions = [("reset_totpdevice", _("Can reset another staff member's two-factor"))]
        constraints = [
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(confirmed_at__isnull=False),
                name="accounts_one_confirmed_totp",
            ),
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(confirmed_at__isnull=True),
                name="accounts_one_pending_totp",
            ),
        ]

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "pending"
        return f"TOTP #{self.pk} ({state})"


class WebAuthnCredential(models.Model):
    """A security key or passkey, registered through WebAuthn and named by its owner."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="webauthn_credentials",
    )
    name = models.CharField(_("name"), max_length=KEY_NAME_CHARS)
    credential_id = models.CharField(
        _("credential id (base64url)"), max_length=CREDENTIAL_ID_CHARS, unique=True
    )
    public_key = models.BinaryField(_("public key (COSE)"))
    # The account's id for authenticators: random, the same for all of its keys (passkeys.py).
    user_handle = models.CharField(_("user handle (hex)"), max_length=128, default="")
    sign_count = models.BigIntegerField(_("signature counter"), default=0)
    transports = models.JSONField(_("transports"), default=list, blank=True)
    created_at = models.DateTimeField(_("added"), default=timezone.now)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True)

    class Meta:
        verbose_name = _("security key")
        verbose_name_plural = _("security keys")
        default_permissions = ()
        ordering = ["created_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="accounts_key_name_per_user")
        ]

    def __str__(self) -> str:
        return self.name


class RecoveryCode(models.Model):
    """One single-use recovery code, as a keyed hash (``recovery.hash_code``)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="recovery_codes",
    )
    code_hash = models.CharField(_("code (keyed hash)"), max_length=64)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    used_at = models.DateTimeField(_("used"), null=True, blank=True)

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["user", "code_hash"], name="accounts_code_per_user")
        ]

    def __str__(self) -> str:
        return f"recovery code #{self.pk}"


class UserSession(models.Model):
    """A session an account signed in with, so that all of them can be ended at once (an
    account disabled, its second factors reset). Whatever the session engine: the session is
    deleted through the engine's store by its key."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("account"),
        on_delete=models.CASCADE,
        related_name="+",
    )
    session_key = models.CharField(_("session key"), max_length=SESSION_KEY_CHARS, unique=True)
    created_at = models.DateTimeField(_("signed in"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("signed-in session")
        verbose_name_plural = _("signed-in sessions")
        default_permissions = ()

    def __str__(self) -> str:
        return f"session of user #{self.user_id}"


class SignInThrottle(models.Model):
    """Failed sign-in attempts (password or second factor) of one account name or one client
    address within the current window, and the lock that too many of them set.

    ``scope`` is ``"account"`` (the username as typed, case-folded: a name without an account
    is counted and locked exactly like one with, so a lock says nothing about which exist) or
    ``"address"`` (the client's IPv4 address, or its IPv6 /64). The key is a keyed hash."""

    class Scope(models.TextChoices):
        ACCOUNT = "account", _("account")
        ADDRESS = "address", _("address")

    scope = models.CharField(_("scope"), max_length=16, choices=Scope.choices)
    hashed_key = models.CharField(_("key (keyed hash)"), max_length=64)
    failures = models.PositiveIntegerField(_("failures"), default=0)
    window_started_at = models.DateTimeField(_("window start"), default=timezone.now)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True)

    class Meta:
        verbose_name = _("sign-in throttle")
        verbose_name_plural = _("sign-in throttles")
        default_permissions = ()
        constraints = [
            models.UniqueConstraint(fields=["scope", "hashed_key"], name="accounts_throttle_key")
        ]
        indexes = [models.Index(fields=["window_started_at"], name="accounts_throttle_window")]

    def __str__(self) -> str:
        return f"{self.scope} {self.hashed_key[:8]}"
