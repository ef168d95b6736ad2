"""Reads of staff sign-in."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.urls import reverse

from gathering.accounts.models import RecoveryCode, TotpDevice, WebAuthnCredential


def has_second_factor(user: Any) -> bool:
    """Whether ``user`` has a confirmed authenticator app or a security key."""
    return (
        TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).exists()
        or WebAuthnCredential.objects.filter(user=user).exists()
    )


def has_security_key(user: Any) -> bool:
    return WebAuthnCredential.objects.filter(user=user).exists()


@dataclass(frozen=True)
class SecurityOverview:
    totp: TotpDevice | None
    keys: list[WebAuthnCredential]
    codes_left: int


def get_security_overview(user: Any) -> SecurityOverview:
    return SecurityOverview(
        totp=TotpDevice.objects.filter(user=user, confirmed_at__isnull=False).first(),
        keys=list(WebAuthnCredential.objects.filter(user=user).order_by("created_at", "pk")),
        codes_left=RecoveryCode.objects.filter(user=user, used_at__isnull=True).count(),
    )


def list_staff_accounts() -> QuerySet[Any]:
    """Staff accounts by username, each with ``has_totp``, ``key_count`` and ``codes_left``."""
    return (
        get_user_model()
        .objects.filter(Q(is_staff=True) | Q(is_superuser=True))
        .annotate(
            has_totp=Exists(
                TotpDevice.objects.filter(user=OuterRef("pk"), confirmed_at__isnull=False)
            ),
            key_count=Count("webauthn_credentials", distinct=True),
            codes_left=Count(
                "recovery_codes",
                filter=Q(recovery_codes__used_at__isnull=True),
                distinct=True,
            ),
        )
        .order_by("username")
    )


def staff_home(user: Any) -> str:
    """Where a staff member lands after signing in without a page to go back to: the back
    office, or for site coordinators (to whom it would show nothing) their site's pages."""
    if user.has_perm("satellites.coordinate_site") and not user.has_perm("satellites.view_site"):
        return reverse("satellites:site-staff-list")
    return reverse("admin:index")
