"""Who may check tickets in: members of the "gate" or "organiser" staff groups."""

from __future__ import annotations

from typing import Any

GATE_ROLES = frozenset({"gate", "organiser"})


def is_gate_staff(user: Any) -> bool:
    """True for an active signed-in account in the gate or organiser group, or a superuser."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    cached = getattr(user, "_gathering_gate_staff", None)
    if cached is None:
        cached = user.groups.filter(name__in=GATE_ROLES).exists()
        user._gathering_gate_staff = cached
    return bool(cached)
