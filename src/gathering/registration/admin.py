"""Back office for registration: categories and their questions, registrations, delegations
(by city, with coach and arrival slot), tickets.

Names and emails are decrypted for roles that may view registrations (organisers; the
registration desk looks people up one at a time on its own page, ``staff_views.py``); the
ticket list (gate role) shows no personal data. Printing several people's badges at once is a
bulk export: it goes through an export request that another organiser approves. Registrations are not
edited field by field: staff act on them through services (cancel, resend the link), so places,
tickets and the waiting list stay consistent. Email search goes through the blind index: type
the whole address.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_permission_codename
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse, QueryDict
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from gathering.audit.export_views import request_form
from gathering.audit.mixins import AuditedReadsMixin
from gathering.audit.services import record as audit
from gathering.core.admin import GatheringModelAdmin, ModelFormBase, translated_text
from gathering.core.crypto import blind_indexes
from gathering.program.models import Edition
from gathering.registration import selectors, services
from gathering.registration.badges import BadgeLayout, badges_pdf
from gathering.registration.models import Category, Delegation, Question, Registration, Ticket

logger = logging.getLogger(__name__)

if TYPE_CHECKING:
    StackedInlineBase = admin.StackedInline[Any, Any]
else:
    StackedInlineBase = admin.StackedInline


class QuestionInline(StackedInlineBase):
    model = Question
    extra = 0
    fields = ("key", "kind", "label", "help_text", "choices", "required", "position")


@admin.register(Category)
class CategoryAdmin(GatheringModelAdmin):
    list_display = (
        "name_text",
        "edition",
        "kind",
        "capacity",
        "places_taken",
        "waiting",
        "opens_at",
        "closes_at",
        "is_public",
    )
    list_filter = ("edition", "kind", "is_public")
    translated_search_fields = ("name",)
    search_fields = ("slug",)
    inlines = (QuestionInline,)
    fieldsets = (
        (None, {"fields": ("edition", "kind", "name", "slug", "description", "position")}),
        (_("Places"), {"fields": ("capacity", "opens_at", "closes_at", "is_public")}),
        (_("Ticket"), {"fields": ("gate", "entry_opens_at", "entry_closes_at")}),
    )

    @admin.display(description=_("name"))
    def name_text(self, obj: Category) -> Any:
        return translated_text(obj.name)

    @admin.display(description=_("places taken"))
    def places_taken(self, obj: Category) -> int:
        return selectors.count_places_taken(category=obj)

    @admin.display(description=_("waiting"))
    def waiting(self, obj: Category) -> int:
        return selectors.count_waiting(category=obj)

    def save_related(
        self, request: HttpRequest, form: ModelFormBase, formsets: Any, change: bool
    ) -> None:
        super().save_related(request, form, formsets, change)
        # A larger capacity frees places: offer them to the waiting list at once.
        offered = services.fill_free_places(category=form.instance)
        if offered:
            messages.info(
                request,
                ngettext(
                    "%(n)s place was offered to the waiting list.",
                    "%(n)s places were offered to the waiting list.",
                    len(offered),
                )
                % {"n": len(offered)},
            )


class EmailIndexSearchMixin:
    """Search registrations by their whole email address (through the blind index) or id."""

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        indexes = blind_indexes(term, purpose="email")
        condition = Q(**{f"{self.email_index_path}__in": indexes})
        if term.isascii() and term.isdigit() and len(term) <= 18:
            condition |= Q(pk=int(term))
        return queryset.filter(condition), False

    email_index_path = "email_index"


@admin.register(Registration)
class RegistrationAdmin(AuditedReadsMixin, EmailIndexSearchMixin, GatheringModelAdmin):
    list_display = (
        "__str__",
        "person_name",
        "category",
        "status",
        "language",
        "country",
        "created_at",
    )
    list_filter = ("edition", "category", "status", "language")
    list_select_related = ("category", "edition")
    search_fields = ("pk",)  # shows the search box; see get_search_results
    search_help_text = _("Search by the whole email address, or by registration number.")
    actions = ("cancel_registrations", "resend_links", "print_badges_a6", "print_badges_labels")
    readonly_fields = (
        "edition",
        "category",
        "delegation",
        "person_name",
        "person_email",
        "person_phone",
        "answers_display",
        "language",
        "country",
        "status",
        "cancel_reason",
        "consent_version",
        "consent_purpose",
        "consent_retention",
        "consented_at",
        "created_at",
        "email_confirmed_at",
        "confirm_by",
        "confirmed_at",
        "waitlisted_at",
        "offer_expires_at",
        "cancelled_at",
        "erased_at",
    )
    fields = readonly_fields

    @admin.display(description=_("name as printed"))
    def person_name(self, obj: Registration) -> str:
        return obj.name or "—"

    @admin.display(description=_("email"))
    def person_email(self, obj: Registration) -> str:
        return obj.email or "—"

    @admin.display(description=_("phone"))
    def person_phone(self, obj: Registration) -> str:
        return obj.phone or "—"

    @admin.display(description=_("answers"))
    def answers_display(self, obj: Registration) -> str:
        return ", ".join(f"{key}: {value}" for key, value in (obj.answers or {}).items()) or "—"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Registration | None = None) -> bool:
        # The form is for reading only; "change" allows the actions (cancel, resend the link).
        return obj is None and super().has_change_permission(request, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Registration | None = None) -> bool:
        return False

    @admin.action(description=_("Cancel the selected registrations"), permissions=["change"])
    def cancel_registrations(self, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
        count = 0
        for registration in queryset.exclude(status=Registration.Status.CANCELLED):
            services.cancel(registration=registration, reason=Registration.CancelReason.BY_STAFF)
            count += 1
        self.message_user(
            request,
            ngettext(
                "%(n)s registration was cancelled.", "%(n)s registrations were cancelled.", count
            )
            % {"n": count},
        )

    @admin.action(
        description=_("Email the selected people a new private link"), permissions=["change"]
    )
    def resend_links(self, request: HttpRequest, queryset: QuerySet[Registration]) -> None:
        count = 0
        for registration in queryset.exclude(status=Registration.Status.CANCELLED):
            if registration.email:
                services.resend_link(edition=registration.edition, email=registration.email)
                count += 1
        self.message_user(
            request,
            ngettext("%(n)s link was sent.", "%(n)s links were sent.", count) % {"n": count},
        )

    def response_action(
        self, request: HttpRequest, queryset: QuerySet[Registration], *args: Any, **kwargs: Any
    ) -> HttpResponse | None:
        # Django filters pk__in=<the posted ids> as they come: "abc" or a 30-digit number would
        # be a 500. Drop them; selecting nothing valid gives Django's "Items must be selected".
        selected = request.POST.getlist(helpers.ACTION_CHECKBOX_NAME)
        valid = [pk for pk in selected if pk.isascii() and pk.isdigit() and len(pk) <= 18]
        if len(valid) != len(selected):
            post = request.POST.copy()
            post.setlist(helpers.ACTION_CHECKBOX_NAME, valid)
            request.POST = post  # type: ignore[assignment]
        return super().response_action(request, queryset, *args, **kwargs)

    def has_print_badges_permission(self, request: HttpRequest) -> bool:
        """Badges carry names: printing them needs the right to see registrations as well."""
        codename = get_permission_codename("print_badges", self.opts)
        return self.has_view_permission(request) and request.user.has_perm(
            f"{self.opts.app_label}.{codename}"
        )

    @admin.action(description=_("Print badges (A6)"), permissions=["print_badges"])
    def print_badges_a6(
        self, request: HttpRequest, queryset: QuerySet[Registration]
    ) -> HttpResponse | None:
        return self._print_badges(request, queryset, layout="a6")

    @admin.action(description=_("Print badges (label sheet)"), permissions=["print_badges"])
    def print_badges_labels(
        self, request: HttpRequest, queryset: QuerySet[Registration]
    ) -> HttpResponse | None:
        return self._print_badges(request, queryset, layout="labels")

    def _print_badges(
        self, request: HttpRequest, queryset: QuerySet[Registration], *, layout: BadgeLayout
    ) -> HttpResponse | None:
        """One person's badge as a PDF download. Several people's badges are a bulk export of
        personal data: the action then shows the export request form (``audit/exports.py``),
        and the PDF is made once another organiser has approved it. People without a badge
        are skipped with a message (shown on the next page of the back office)."""
        selected = queryset.count()
        printable = list(selectors.list_badge_registrations(registrations=queryset))
        skipped = selected - len(printable)
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(n)s selected registration has no badge: badges are printed for confirmed "
                    "press, guests and volunteers only.",
                    "%(n)s selected registrations have no badge: badges are printed for "
                    "confirmed press, guests and volunteers only.",
                    skipped,
                )
                % {"n": skipped},
                messages.WARNING,
            )
        if not printable:
            return None  # back to the list, with the message
        if len(printable) > 1:
            data = QueryDict(mutable=True)
            data["kind"] = "registration.badges"
            data["layout"] = layout
            data.setlist("ids", [str(registration.pk) for registration in printable])
            return request_form(request, data)
        pdf = badges_pdf(registrations=printable, layout=layout)
        audit(
            request,
            action="export.badges",
            object_type="registration.registration",
            summary=f"layout={layout} count=1 ids={printable[0].pk}",
        )
        logger.info("badge printed, layout %s, by user_id=%s", layout, request.user.pk)
        filename = f"badge-{printable[0].edition.year}-{printable[0].pk}-{layout}.pdf"
        return HttpResponse(
            pdf,
            content_type="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )


class DelegationForm(ModelFormBase):
    class Meta:
        model = Delegation
        fields = ("coach_number", "arrival_slot", "deadline")


@admin.register(Delegation)
class DelegationAdmin(GatheringModelAdmin):
    """Delegations by city, with member counts; staff assign coaches and arrival slots."""

    form = DelegationForm
    change_list_template = "admin/registration/delegation/change_list.html"
    list_display = (
        "city",
        "country",
        "transport",
        "expected_size",
        "member_count",
        "coach_number",
        "arrival_slot",
        "deadline",
    )
    list_filter = ("edition", "country", "transport")
    search_fields = ("city",)
    ordering = ("country", "city", "pk")
    readonly_fields = (
        "edition",
        "category",
        "city",
        "country",
        "transport",
        "expected_size",
        "member_count",
        "created_at",
    )
    fields = (*readonly_fields, "coach_number", "arrival_slot", "deadline")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Delegation]:
        delegations: QuerySet[Delegation] = super().get_queryset(request)
        return delegations.annotate(
            active_members=Count(
                "members", filter=~Q(members__status=Registration.Status.CANCELLED)
            )
        )

    @admin.display(description=_("members"), ordering="active_members")
    def member_count(self, obj: Delegation) -> int:
        return int(getattr(obj, "active_members", 0))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # leaders create delegations from their registration

    def has_delete_permission(self, request: HttpRequest, obj: Delegation | None = None) -> bool:
        return False

    def save_model(
        self, request: HttpRequest, obj: Delegation, form: ModelFormBase, change: bool
    ) -> None:
        services.assign_transport(
            delegation=obj,
            coach_number=form.cleaned_data.get("coach_number", ""),
            arrival_slot=form.cleaned_data.get("arrival_slot"),
            deadline=form.cleaned_data.get("deadline"),
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        edition_id = request.GET.get("edition__id__exact", "")
        edition = None
        if edition_id.isascii() and edition_id.isdigit() and len(edition_id) <= 18:
            edition = Edition.objects.filter(pk=int(edition_id)).first()
        if edition is None:
            edition = Edition.objects.filter(delegations__isnull=False).order_by("-year").first()
        context = {
            **(extra_context or {}),
            "city_edition": edition,
            "city_counts": selectors.list_delegations_by_city(edition=edition) if edition else [],
        }
        return super().changelist_view(request, context)


@admin.register(Ticket)
class TicketAdmin(GatheringModelAdmin):
    """Tickets without names: what a gate may see."""

    list_display = (
        "ticket_id",
        "edition",
        "category_code",
        "key_id",
        "valid_from",
        "valid_until",
        "revoked_at",
    )
    list_filter = ("edition", "category_code", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("ticket_id",)
    fields = list_display
    readonly_fields = list_display

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Ticket | None = None) -> bool:
        return False
