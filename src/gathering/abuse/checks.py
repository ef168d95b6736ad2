"""System checks of the abuse settings (``gathering check`` runs them, and so does CI)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, register


@register()
def check_abuse_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for cidr in settings.TRUSTED_PROXIES:
        try:
            ipaddress.ip_network(cidr, strict=False)
        except ValueError:
            errors.append(
                Error(f"TRUSTED_PROXIES: {cidr!r} is not an address or network.", id="abuse.E001")
            )
    if not 8 <= settings.ABUSE_IPV4_PREFIX <= 32 or not 16 <= settings.ABUSE_IPV6_PREFIX <= 128:
        errors.append(
            Error("ABUSE_IPV4_PREFIX must be 8-32 and ABUSE_IPV6_PREFIX 16-128.", id="abuse.E002")
        )
    if not 1_000 <= settings.ALTCHA_MAX_NUMBER <= 10**9 or settings.ALTCHA_EXPIRES < 60:
        errors.append(
            Error(
                "ALTCHA_MAX_NUMBER must be 1,000-1,000,000,000 and ALTCHA_EXPIRES at least 60.",
                id="abuse.E003",
            )
        )
    return errors
