"""Domain errors of the audit trail."""

from __future__ import annotations


class AppendOnlyError(Exception):
    """An audit event was about to be changed or deleted: the trail is append-only."""
