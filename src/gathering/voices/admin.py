"""Back office for "add your voice": campaigns with their endorsements, the published
invalidations, and a read-only list of signatures.

Signatures are never edited here and their personal data never shown: no name, city, message
or address column, and no search (it could only match personal data). Moderators decide on the
moderation pages (``moderation_views.py``), which show what a decision needs; organisers get a
list of statuses, countries and flags here for an overview. Endorsements are shown publicly only
once verified; "Mark as verified" records who checked them and when, and editing what an
endorsement says withdraws the verification (it must be checked again).
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.timezone import now
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from gathering.audit.mixins import AuditedReadsMixin
from gathering.core.admin import GatheringModelAdmin, ModelFormBase, translated_text
from gathering.registration.countries import country_choices, country_name
from gathering.voices.models import Campaign, Endorsement, Invalidation, Signature

if TYPE_CHECKING:
    StackedInlineBase = admin.StackedInline[Any, Any]
else:
    StackedInlineBase = admin.StackedInline

logger = logging.getLogger(__name__)

# What an endorsement says: changing any of it withdraws the verification.
ENDORSEMENT_CONTENT = ("name", "title", "country", "statement", "campaign")


def _country_choices() -> list[tuple[str, str]]:
    return [("", "---------"), *country_choices()]


class EndorsementForm(ModelFormBase):
    country = forms.ChoiceField(label=_("country"), choices=_country_choices)

    class Meta:
        model = Endorsement
        fields = ("campaign", "name", "title", "country", "statement", "position")


class EndorsementInline(StackedInlineBase):
    model = Endorsement
    form = EndorsementForm
    extra = 0
    fields = ("name", "title", "country", "statement", "position", "verified_at", "verified_by")
    readonly_fields = ("verified_at", "verified_by")


class CampaignForm(ModelFormBase):
    class Meta:
        model = Campaign
        fields = (
            "edition",
            "kind",
            "title",
            "slug",
            "text",
            "addressee",
            "position",
            "is_published",
            "opens_at",
            "closes_at",
            "asks_name",
            "asks_city",
            "asks_message",
            "goal",
            "country_threshold",
        )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error("closes_at", _("The campaign must close after it opens."))
        threshold = data.get("country_threshold")
        if threshold is not None and threshold < 1:
            self.add_error("country_threshold", _("Enter 1 or more."))
        return data


@admin.register(Campaign)
class CampaignAdmin(GatheringModelAdmin):
    form = CampaignForm
    list_display = (
        "title_text",
        "edition",
        "kind",
        "opens_at",
        "closes_at",
        "is_published",
        "moderation_link",
    )
    list_display_links = ("title_text",)
    list_filter = ("edition", "kind", "is_published")
    list_select_related = ("edition",)
    search_fields = ("slug",)
    translated_search_fields = ("title",)
    inlines = (EndorsementInline,)
    fieldsets = (
        (None, {"fields": ("edition", "kind", "title", "slug", "position", "is_published")}),
        (_("Text"), {"fields": ("text", "addressee")}),
        (_("Dates"), {"fields": (("opens_at", "closes_at"),)}),
        (_("Sign form"), {"fields": ("asks_name", "asks_city", "asks_message")}),
        (_("Counts"), {"fields": ("goal", "country_threshold")}),
    )

    @admin.display(description=_("title"))
    def title_text(self, obj: Campaign) -> SafeString | str:
        return translated_text(obj.title)

    @admin.display(description=_("moderation"))
    def moderation_link(self, obj: Campaign) -> SafeString:
        url = reverse("voices:moderation", args=[obj.edition.year, obj.slug])
        return format_html('<a href="{}">{}</a>', url, gettext("Moderate"))

    def view_on_site(self, obj: Campaign) -> str:
        return reverse("voices:campaign-detail", args=[obj.edition.year, obj.slug])

    def save_formset(self, request: HttpRequest, form: Any, formset: Any, change: bool) -> None:
        if formset.model is Endorsement:
            for inline_form in formset.forms:
                _unverify_if_changed(request, inline_form)
        super().save_formset(request, form, formset, change)


def _unverify_if_changed(request: HttpRequest, form: Any) -> None:
    """A verified endorsement whose content was edited is shown again only once re-verified."""
    endorsement = form.instance
    if endorsement.pk is None or endorsement.verified_at is None:
        return
    if not set(form.changed_data) & set(ENDORSEMENT_CONTENT):
        return
    endorsement.verified_at = None
    endorsement.verified_by = None
    messages.warning(
        request,
        gettext("“%(name)s” was changed: it is hidden until it is verified again.")
        % {"name": endorsement.name},
    )


@admin.register(Endorsement)
class EndorsementAdmin(GatheringModelAdmin):
    form = EndorsementForm
    list_display = ("name", "title_text", "campaign", "country_text", "is_verified", "verified_by")
    list_filter = ("campaign", ("verified_at", admin.EmptyFieldListFilter))
    list_select_related = ("campaign", "campaign__edition", "verified_by")
    search_fields = ("name",)
    translated_search_fields = ("title",)
    readonly_fields = ("verified_at", "verified_by")
    fields = ("campaign", "name", "title", "country", "statement", "position", *readonly_fields)
    actions = ("mark_verified",)

    @admin.display(description=_("title"))
    def title_text(self, obj: Endorsement) -> SafeString | str:
        return translated_text(obj.title)

    @admin.display(description=_("country"))
    def country_text(self, obj: Endorsement) -> str:
        return country_name(obj.country)

    @admin.display(description=_("verified"), boolean=True, ordering="verified_at")
    def is_verified(self, obj: Endorsement) -> bool:
        return obj.verified_at is not None

    def save_model(self, request: HttpRequest, obj: Endorsement, form: Any, change: bool) -> None:
        if change:
            _unverify_if_changed(request, form)
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Mark as verified (shown publicly)"), permissions=["change"])
    def mark_verified(self, request: HttpRequest, queryset: QuerySet[Endorsement]) -> None:
        # Those verified already keep who verified them first.
        ids = list(queryset.filter(verified_at__isnull=True).values_list("pk", flat=True))
        updated = Endorsement.objects.filter(pk__in=ids, verified_at__isnull=True).update(
            verified_by=request.user, verified_at=now()
        )
        logger.info(
            "voices endorsements verified endorsement_ids=%s user_id=%s",
            ",".join(str(pk) for pk in ids) or "-",
            request.user.pk,
        )
        messages.success(
            request,
            ngettext(
                "%(n)s endorsement marked as verified.",
                "%(n)s endorsements marked as verified.",
                updated,
            )
            % {"n": updated},
        )


class ReadOnlyAdmin(GatheringModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Invalidation)
class InvalidationAdmin(ReadOnlyAdmin):
    """The moderators' decisions (made on the moderation pages), for reading."""

    list_display = ("created_at", "campaign", "kind", "reason", "count", "counted", "created_by")
    list_filter = ("campaign", "kind")
    list_select_related = ("campaign", "campaign__edition", "created_by")
    fields = (
        "campaign",
        "kind",
        "reason",
        "criteria",
        "count",
        "counted",
        "created_by",
        "created_at",
    )
    readonly_fields = fields
    date_hierarchy = "created_at"


@admin.register(Signature)
class SignatureAdmin(AuditedReadsMixin, ReadOnlyAdmin):
    """Statuses, countries and flags only: no personal data, no search, no edits."""

    list_display = (
        "pk",
        "campaign",
        "status",
        "review",
        "country",
        "flags_text",
        "message_status",
        "created_at",
        "confirmed_at",
    )
    list_display_links = None
    list_filter = ("campaign", "status", "review", "message_status")
    list_select_related = ("campaign", "campaign__edition")
    fields = (
        "campaign",
        "status",
        "review",
        "country",
        "flags",
        "message_status",
        "created_at",
        "confirmed_at",
        "withdrawn_at",
        "invalidation",
    )
    readonly_fields = fields
    search_fields = ()

    @admin.display(description=_("flags"))
    def flags_text(self, obj: Signature) -> str:
        return ", ".join(str(flag) for flag in obj.flags or []) or "—"
