"""Back office of gate check-in: gates, gate devices (tokens shown once), the scan log."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from gathering.checkin import services
from gathering.checkin.models import Gate, GateDevice, Scan
from gathering.checkin.tokens import hash_token, new_token
from gathering.core.admin import GatheringModelAdmin, translated_text


@admin.register(Gate)
class GateAdmin(GatheringModelAdmin):
    list_display = ("name_text", "slug", "edition", "site", "position")
    list_filter = ("edition", "site")
    list_select_related = ("edition", "site")
    search_fields = ("slug",)
    translated_search_fields = ("name",)
    fields = ("edition", "name", "slug", "site", "position")

    @admin.display(description=_("name"))
    def name_text(self, gate: Gate) -> Any:
        return translated_text(gate.name)


@admin.register(GateDevice)
class GateDeviceAdmin(GatheringModelAdmin):
    """Adding a device shows its token once; the database keeps only the token's hash."""

    list_display = ("label", "gate", "revoked", "created_at")
    list_filter = ("gate__edition", "gate", "revoked")
    search_fields = ("label",)
    fields = ("gate", "label", "revoked")
    actions = ["revoke"]

    def save_model(self, request: HttpRequest, obj: GateDevice, form: Any, change: bool) -> None:
        if change:
            super().save_model(request, obj, form, change)
            return
        token = new_token()
        obj.token_hash = hash_token(token)
        super().save_model(request, obj, form, change)
        messages.warning(
            request,
            _("The device's token, shown only now: %(token)s") % {"token": token},
        )

    @admin.action(description=_("Revoke the selected devices"))
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for device in queryset:
            services.revoke_gate_device(device=device)


@admin.register(Scan)
class ScanAdmin(GatheringModelAdmin):
    """The check-in log: ticket ids and reasons, no names. Read only."""

    list_display = (
        "server_time",
        "gate",
        "direction",
        "status",
        "ticket_id",
        "scanner_id",
        "offline",
    )
    list_filter = ("edition", "gate", "direction", "status", "offline")
    search_fields = ("ticket_id", "nonce")
    date_hierarchy = "server_time"
    readonly_fields = (
        "edition",
        "gate",
        "ticket_id",
        "category_code",
        "direction",
        "status",
        "reason",
        "nonce",
        "device",
        "scanned_by",
        "scanner_id",
        "device_time",
        "offline",
        "server_time",
        "duplicate_of",
    )
    fields = readonly_fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Scan | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Scan | None = None) -> bool:
        return False
