"""Recording reads of personal data in the back office: mix :class:`AuditedReadsMixin` into
the ``ModelAdmin`` of a model that holds personal data."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse

from gathering.audit import services

# Query parameters of a changelist that say how it is shown, not what is filtered.
_DISPLAY_PARAMS = {"o", "p", "all", "_changelist_filters", "_to_field", "_popup"}
_MAX_IDS = 20


def _changelist_summary(request: HttpRequest) -> str:
    # Parameter names only: a search term (``q``) may be a name or an email address.
    keys = sorted({key[:40] for key in request.GET if key not in _DISPLAY_PARAMS})[:20]
    parts = []
    if keys:
        parts.append("filters=" + ",".join(keys))
    page = request.GET.get("p", "")
    if page.isdigit() and len(page) < 8:
        parts.append(f"page={page}")
    return " ".join(parts)


class AuditedReadsMixin:
    """Records each GET of the change form (``<model>.view``) and of the list
    (``<model>.list``), and each bulk action run from the list (``<model>.action``), before
    the page is rendered: if the event cannot be written, the page is not shown."""

    model: Any

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        # Only what is shown: a refused request (a 403 from the admin) reads nothing.
        if (
            request.method == "GET"
            and object_id is not None
            and self.has_view_or_change_permission(request)  # type: ignore[attr-defined]
        ):
            services.record(
                request,
                action=f"{self.model._meta.model_name}.view",
                object_type=self.model._meta.label_lower,
                object_id=str(object_id)[:64],
            )
        return super().changeform_view(request, object_id, form_url, extra_context)  # type: ignore[misc, no-any-return]

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        name = self.model._meta.model_name
        allowed = self.has_view_or_change_permission(request)  # type: ignore[attr-defined]
        if not allowed:
            pass  # the admin answers 403: nothing is read
        elif request.method == "GET":
            services.record(
                request,
                action=f"{name}.list",
                object_type=self.model._meta.label_lower,
                summary=_changelist_summary(request),
            )
        elif request.method == "POST" and request.POST.get("action"):
            selected = [
                value
                for value in request.POST.getlist("_selected_action")
                if value.isdigit() and len(value) < 19
            ]
            action = "".join(c for c in request.POST["action"][:60] if c.isalnum() or c == "_")
            shown = ",".join(selected[:_MAX_IDS]) + ("…" if len(selected) > _MAX_IDS else "")
            services.record(
                request,
                action=f"{name}.action",
                object_type=self.model._meta.label_lower,
                summary=f"action={action} count={len(selected)} ids={shown}",
            )
        return super().changelist_view(request, extra_context)  # type: ignore[misc, no-any-return]
