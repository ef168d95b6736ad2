"""Back office: shared admin helpers and the organisation (one per installation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.conf import settings
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from gathering.core.models import Organisation
from gathering.core.translated import Translated, language_codes

# The admin and form classes are generic only for the type checker (django-stubs).
if TYPE_CHECKING:
    ModelAdminBase = admin.ModelAdmin[Any]
    ModelFormBase = forms.ModelForm[Any]
else:
    ModelAdminBase = admin.ModelAdmin
    ModelFormBase = forms.ModelForm


def translated_text(value: Mapping[str, str] | None) -> SafeString | str:
    """A translated text for a changelist column, marked with the language it is shown in
    (a Persian fallback in an English back office is then laid out right to left)."""
    if not value:
        return ""
    text = Translated(value)
    return format_html('<span lang="{}" dir="{}">{}</span>', text.lang, text.dir, str(text))


class GatheringModelAdmin(ModelAdminBase):
    """A ModelAdmin that lays out translated fields side by side and searches them.

    ``translated_search_fields`` names :class:`~gathering.core.translated.TranslatedField`
    columns searched in every language, beside the plain ``search_fields``. Each language is a
    JSON key lookup, which works on SQLite (whose JSON text escapes non-ASCII letters) as on
    PostgreSQL.
    """

    translated_search_fields: Sequence[str] = ()

    class Media:
        css = {"all": ("core/admin.css",)}

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        fields = list(super().get_search_fields(request))
        fields += [
            f"{field}__{code}__icontains"
            for field in self.translated_search_fields
            for code in language_codes()
        ]
        return fields


# What the legal notice and the privacy notice (the ``privacy`` app) are written from.
LEGAL_FIELDS = ("legal_name", "postal_address", "phone", "registration_id", "publication_director")
HOST_FIELDS = ("host_name", "host_address", "host_phone")
DATA_PROTECTION_FIELDS = (
    "dpo_name",
    "privacy_email",
    "processors",
    "transfers",
    "log_retention_days",
    "supervisory_authority",
    "supervisory_authority_address",
    "supervisory_authority_url",
)


class OrganisationForm(ModelFormBase):
    default_language = forms.ChoiceField(
        label=_("default language"),
        choices=settings.LANGUAGES,
        help_text=_("Texts missing in a visitor's language are shown in this one."),
    )

    class Meta:
        model = Organisation
        fields = (
            "name",
            "short_name",
            "website",
            "contact_email",
            "default_language",
            *LEGAL_FIELDS,
            *HOST_FIELDS,
            *DATA_PROTECTION_FIELDS,
        )


@admin.register(Organisation)
class OrganisationAdmin(GatheringModelAdmin):
    """The single organisation row (id 1): it can be added once and never deleted."""

    form = OrganisationForm
    list_display = ("name_text", "short_name", "website", "contact_email")
    fieldsets = (
        (None, {"fields": ("name", "short_name", "website", "contact_email", "default_language")}),
        (
            _("Publisher (legal notice)"),
            {
                "fields": LEGAL_FIELDS,
                "description": _("The legal notice linked from every page shows these."),
            },
        ),
        (_("Host (legal notice)"), {"fields": HOST_FIELDS}),
        (
            _("Data protection (privacy notice)"),
            {
                "fields": DATA_PROTECTION_FIELDS,
                "description": _(
                    "The privacy notice linked from every page shows these beside what the "
                    "software does with personal data."
                ),
            },
        ),
    )

    @admin.display(description=_("name"))
    def name_text(self, obj: Organisation) -> SafeString | str:
        return translated_text(obj.name)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return super().has_add_permission(request) and not Organisation.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj: Organisation | None = None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        # A list of one row is a detour: go straight to the form.
        organisation = Organisation.objects.order_by("pk").first()
        if organisation is not None and self.has_view_or_change_permission(request, organisation):
            return HttpResponseRedirect(
                reverse("admin:core_organisation_change", args=[organisation.pk])
            )
        if organisation is None and self.has_add_permission(request):
            return HttpResponseRedirect(reverse("admin:core_organisation_add"))
        return super().changelist_view(request, extra_context)

    def save_model(
        self,
        request: HttpRequest,
        obj: Organisation,
        form: forms.ModelForm[Organisation],
        change: bool,
    ) -> None:
        if not change:
            obj.pk = 1  # the site reads the organisation as row 1
        super().save_model(request, obj, form, change)
