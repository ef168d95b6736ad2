"""The outbox in the admin: an audit of what was sent when, read-only, naming nobody (the
recipient and context are encrypted and erased once sent; the admin never shows them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from gathering.core.admin import GatheringModelAdmin
from gathering.outbox.models import OutboxEmail

AUDIT_FIELDS: tuple[str, ...] = (
    "kind",
    "language",
    "status",
    "attempts",
    "last_error",
    "message_id",
    "created_at",
    "send_after",
    "claimed_until",
    "sent_at",
)


@admin.register(OutboxEmail)
class OutboxEmailAdmin(GatheringModelAdmin):
    list_display = ["id", "kind", "language", "status", "attempts", "created_at", "sent_at"]
    list_filter = ["status", "kind"]
    fields = AUDIT_FIELDS
    readonly_fields = AUDIT_FIELDS
    ordering = ["-id"]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
