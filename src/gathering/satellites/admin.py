"""Back office of satellite sites: sites (decided through the services), stream channels and
attendance reports.

A site's contact name and email appear only on its own page, never in a list; email search goes
through the blind index (type the whole address). Decisions and reviews are actions that call
the services, so the coordinator's account, the email and the live figures follow.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from gathering.audit.mixins import AuditedReadsMixin
from gathering.core.admin import GatheringModelAdmin, translated_text
from gathering.core.cache import bump_version
from gathering.core.crypto import blind_indexes
from gathering.satellites import services
from gathering.satellites.errors import ReportDecisionError, SiteDecisionError, SiteError
from gathering.satellites.models import AttendanceReport, Site, StreamChannel


def _report(request: HttpRequest, done: int, skipped: int) -> None:
    if done:
        messages.success(
            request, ngettext("%(n)s item updated.", "%(n)s items updated.", done) % {"n": done}
        )
    if skipped:
        messages.warning(
            request,
            ngettext(
                "%(n)s item had been decided already: it was left as it is.",
                "%(n)s items had been decided already: they were left as they are.",
                skipped,
            )
            % {"n": skipped},
        )


@admin.register(StreamChannel)
class StreamChannelAdmin(GatheringModelAdmin):
    list_display = ("label_text", "edition", "language", "is_main", "position", "url")
    list_filter = ("edition", "is_main")
    search_fields = ("language", "url")
    translated_search_fields = ("label",)
    fields = ("edition", "is_main", "language", "label", "url", "position")

    @admin.display(description=_("label"))
    def label_text(self, channel: StreamChannel) -> Any:
        return translated_text(channel.label)

    def save_model(self, request: HttpRequest, obj: StreamChannel, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        bump_version(services.PAGE_CACHE)

    def delete_model(self, request: HttpRequest, obj: StreamChannel) -> None:
        super().delete_model(request, obj)
        bump_version(services.PAGE_CACHE)


@admin.register(Site)
class SiteAdmin(AuditedReadsMixin, GatheringModelAdmin):
    list_display = (
        "name",
        "edition",
        "city",
        "country",
        "is_online",
        "expected_attendance",
        "status",
        "uses_tickets",
        "coordinator",
    )
    list_filter = ("edition", "status", "country", "is_online", "uses_tickets")
    list_select_related = ("edition", "coordinator")
    search_fields = ("name", "city", "slug")
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "edition",
                    "status",
                    "name",
                    "slug",
                    "city",
                    "country",
                    "is_online",
                    "venue",
                    "expected_attendance",
                    "timezone",
                )
            },
        ),
        (_("Stream and counting"), {"fields": ("channel", "uses_tickets")}),
        (
            _("Contact (personal data)"),
            {"fields": ("contact_name", "contact_email", "language", "consent_version")},
        ),
        (_("Decision"), {"fields": ("coordinator", "created_at", "decided_at", "decided_by")}),
    )
    readonly_fields = (
        "edition",
        "status",
        "uses_tickets",
        "contact_name",
        "contact_email",
        "language",
        "consent_version",
        "coordinator",
        "created_at",
        "decided_at",
        "decided_by",
    )
    actions = ["approve", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Sites come from the application form (its consent is recorded there).
        return False

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Site], search_term: str
    ) -> tuple[QuerySet[Site], bool]:
        term = search_term.strip()
        if "@" in term:
            indexes = blind_indexes(term, purpose="email")
            return queryset.filter(contact_email_index__in=indexes), False
        return super().get_search_results(request, queryset, search_term)

    def formfield_for_foreignkey(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "channel":
            site_id = (
                request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            )
            site = Site.objects.filter(pk=site_id).first() if site_id else None
            queryset = StreamChannel.objects.all()
            kwargs["queryset"] = (
                queryset.filter(edition_id=site.edition_id) if site else queryset.none()
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def save_model(self, request: HttpRequest, obj: Site, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        bump_version(services.PAGE_CACHE)

    @admin.action(description=_("Approve the selected sites"), permissions=["change"])
    def approve(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        done = skipped = 0
        for site in queryset:
            try:
                services.approve_site(site=site, by=request.user)
            except SiteDecisionError:
                skipped += 1
            else:
                done += 1
        _report(request, done, skipped)

    @admin.action(description=_("Reject the selected sites"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[Site]) -> None:
        done = skipped = 0
        for site in queryset:
            try:
                services.reject_site(site=site, by=request.user)
            except SiteDecisionError:
                skipped += 1
            else:
                done += 1
        _report(request, done, skipped)


@admin.register(AttendanceReport)
class AttendanceReportAdmin(GatheringModelAdmin):
    """Reports as coordinators sent them (read only); held ones are accepted or rejected."""

    list_display = ("site", "count", "reported_at", "status", "created_at")
    list_filter = ("status", "site__edition")
    list_select_related = ("site",)
    search_fields = ("site__name", "site__city")
    date_hierarchy = "reported_at"
    fields = ("site", "count", "reported_at", "note", "status", "reported_by", "created_at")
    readonly_fields = fields
    actions = ["accept", "reject"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: AttendanceReport | None = None
    ) -> bool:
        return False

    def _review(self, request: HttpRequest, queryset: Any, *, accept: bool) -> None:
        done = skipped = 0
        for report in queryset:
            try:
                services.review_report(report=report, accept=accept, by=request.user)
            except (ReportDecisionError, SiteError):
                skipped += 1
            else:
                done += 1
        _report(request, done, skipped)

    @admin.action(description=_("Accept the selected held reports"), permissions=["change"])
    def accept(self, request: HttpRequest, queryset: QuerySet[AttendanceReport]) -> None:
        self._review(request, queryset, accept=True)

    @admin.action(description=_("Reject the selected held reports"), permissions=["change"])
    def reject(self, request: HttpRequest, queryset: QuerySet[AttendanceReport]) -> None:
        self._review(request, queryset, accept=False)
