"""The trail in the back office: read only for everyone, superusers included."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from gathering.audit.models import AuditEvent
from gathering.core.admin import ModelAdminBase


@admin.register(AuditEvent)
class AuditEventAdmin(ModelAdminBase):
    list_display = ("at", "actor_username", "action", "object_type", "object_id", "ip")
    list_filter = ("action", "object_type")
    search_fields = ("actor_username", "action", "object_type", "object_id")
    date_hierarchy = "at"
    readonly_fields = (
        "at",
        "actor",
        "actor_username",
        "action",
        "object_type",
        "object_id",
        "summary",
        "ip",
        "user_agent",
    )
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
