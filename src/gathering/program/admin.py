"""Back office for the program: editions with their rooms and tracks, sessions, speakers.

Plain edits go through the ModelAdmins; conflicts in the program (a speaker or a room booked
twice, a session outside the edition's dates) come from
:func:`gathering.program.selectors.list_conflicts` and are shown as warnings, never as errors:
organisers may save a draft program that still has conflicts.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Count, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _

from gathering.core.admin import GatheringModelAdmin, ModelFormBase, translated_text
from gathering.program.models import Edition, Room, Session, SessionSpeaker, Speaker, Track
from gathering.program.selectors import Conflict, list_conflicts

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

    TabularInlineBase = admin.TabularInline[Any, Any]
else:
    TabularInlineBase = admin.TabularInline

# "fa", "en", "pt-br", "zh-hant": the codes the program shows as floor and channel languages.
LANGUAGE_CODE_PATTERN = re.compile(r"[a-z]{2,3}(-[a-z0-9]{2,4})?")
MAX_INTERPRETATION_CHANNELS = 20
# How many conflict warnings one save shows before pointing to the conflicts page.
WARNINGS_SHOWN = 5


def _parse_id(value: object) -> int | None:
    """A primary key from request data, or None for anything that is not a positive integer."""
    text = str(value or "").strip()
    if text.isascii() and text.isdigit() and 0 < len(text) <= 18:
        return int(text)
    return None


def _language_code(text: str) -> str:
    code = text.strip().lower()
    if not LANGUAGE_CODE_PATTERN.fullmatch(code):
        raise ValidationError(
            _("“%(code)s” is not a language code such as fa, en or fr."),
            code="invalid",
            params={"code": code[:20]},
        )
    return code


class LanguageCodeField(forms.CharField):
    def to_python(self, value: Any) -> str:
        text = super().to_python(value) or ""
        return _language_code(text) if text else text


class LanguageCodesField(forms.CharField):
    """Language codes typed as ``en, fr`` and stored as the list ``["en", "fr"]``."""

    def prepare_value(self, value: Any) -> Any:
        if isinstance(value, list):
            return ", ".join(str(code) for code in value)
        return value

    def to_python(self, value: Any) -> list[str]:  # type: ignore[override]
        text = super().to_python(value) or ""
        codes: list[str] = []
        for part in re.split(r"[\s,;]+", text):
            if part and (code := _language_code(part)) not in codes:
                codes.append(code)
        if len(codes) > MAX_INTERPRETATION_CHANNELS:
            raise ValidationError(
                _("At most %(max)s interpretation channels."),
                code="max_channels",
                params={"max": MAX_INTERPRETATION_CHANNELS},
            )
        return codes


def _label_with_year(obj: Room | Track) -> str:
    return f"{obj.edition.year} · {obj}"


class SessionAdminForm(ModelFormBase):
    floor_language = LanguageCodeField(
        label=_("Language of the floor"),
        max_length=8,
        help_text=_("ISO 639-1 code of the language spoken on stage, e.g. fa, en, fr."),
    )
    interpretation_languages = LanguageCodesField(
        label=_("Interpretation channels"),
        required=False,
        help_text=_("Language codes separated by commas, e.g. en, fr."),
    )

    class Meta:
        model = Session
        fields = (
            "edition",
            "title",
            "kind",
            "start",
            "end",
            "room",
            "track",
            "floor_language",
            "interpretation_languages",
            "abstract",
            "stream_url",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        edition_id = self.instance.edition_id or _parse_id(self.initial.get("edition"))
        for name in ("room", "track"):
            field = self.fields.get(name)
            if not isinstance(field, forms.ModelChoiceField) or field.queryset is None:
                continue
            if edition_id and not self.is_bound:
                # Offer only this edition's rooms; submitted data is checked by Session.clean,
                # which names the problem ("This room belongs to another edition").
                field.queryset = field.queryset.filter(edition_id=edition_id)
            else:
                field.queryset = field.queryset.select_related("edition").order_by(
                    "-edition__year", "position", "slug"
                )
                field.label_from_instance = _label_with_year  # type: ignore[method-assign]
        for name in ("start", "end"):
            if name in self.fields:
                self.fields[name].help_text = _("In the edition's time zone.")


class SessionSpeakerInline(TabularInlineBase):
    model = SessionSpeaker
    fields = ("position", "speaker")
    autocomplete_fields = ("speaker",)
    ordering = ("position", "pk")
    extra = 1
    verbose_name = _("speaker")
    verbose_name_plural = _("speakers, in the order they are announced")


class TrackInlineForm(ModelFormBase):
    class Meta:
        model = Track
        fields = ("name", "slug", "color", "position")
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}


class RoomInline(TabularInlineBase):
    model = Room
    fields = ("name", "slug", "capacity", "position")
    extra = 0


class TrackInline(TabularInlineBase):
    model = Track
    form = TrackInlineForm
    fields = ("name", "slug", "color", "position")
    extra = 0


class EditionScopedFilter(admin.RelatedFieldListFilter):
    """Rooms or tracks of the edition chosen in the edition filter; with none chosen, every
    edition's, each labelled with its year (every edition has its own "Main hall")."""

    def field_choices(
        self, field: Any, request: HttpRequest, model_admin: admin.ModelAdmin[Any]
    ) -> list[tuple[str, str | _StrPromise]]:
        edition_id = _parse_id(request.GET.get("edition__id__exact"))
        related = field.related_model.objects.select_related("edition")
        if edition_id:
            return [(str(obj.pk), str(obj)) for obj in related.filter(edition_id=edition_id)]
        return [
            (str(obj.pk), _label_with_year(obj))
            for obj in related.order_by("-edition__year", "position", "slug")
        ]


def _public_url(name: str, **kwargs: Any) -> str | None:
    try:
        return reverse(name, kwargs=kwargs)
    except NoReverseMatch:
        return None


def _warn(request: HttpRequest, conflicts: Sequence[Conflict], *, conflicts_url: str) -> None:
    for conflict in conflicts[:WARNINGS_SHOWN]:
        messages.warning(request, conflict.message)
    if len(conflicts) > WARNINGS_SHOWN:
        more = len(conflicts) - WARNINGS_SHOWN
        messages.warning(
            request,
            format_html(
                '<a href="{}">{}</a>',
                conflicts_url,
                ngettext(
                    "%(count)s more conflict: see the conflicts page.",
                    "%(count)s more conflicts: see the conflicts page.",
                    more,
                )
                % {"count": more},
            ),
        )


def _conflicts_url(edition_id: int) -> str:
    return reverse("admin:program_edition_conflicts", args=[edition_id])


@admin.register(Edition)
class EditionAdmin(GatheringModelAdmin):
    list_display = (
        "year",
        "title_text",
        "city_text",
        "status",
        "start_date",
        "end_date",
        "conflicts_link",
    )
    list_display_links = ("year", "title_text")
    list_filter = ("status",)
    search_fields = ("year__exact",)
    translated_search_fields = ("title", "city", "focus")
    inlines = (RoomInline, TrackInline)
    fieldsets = (
        (None, {"fields": ("year", "title", "status", "default_language")}),
        (_("Theme"), {"fields": ("focus",)}),
        (
            _("Place and dates"),
            {
                "fields": (
                    ("start_date", "end_date"),
                    "timezone",
                    "city",
                    "venue_name",
                    "venue_address",
                    ("latitude", "longitude"),
                )
            },
        ),
        (_("Personal data"), {"fields": ("retention_days",)}),
    )

    @admin.display(description=_("title"))
    def title_text(self, obj: Edition) -> SafeString | str:
        return translated_text(obj.title)

    @admin.display(description=_("city"))
    def city_text(self, obj: Edition) -> SafeString | str:
        return translated_text(obj.city)

    @admin.display(description=_("conflicts"))
    def conflicts_link(self, obj: Edition) -> SafeString:
        # A link, not a count: a count would cost two queries per row of the list.
        return format_html('<a href="{}">{}</a>', _conflicts_url(obj.pk), gettext("Check"))

    def view_on_site(self, obj: Edition) -> str | None:
        return _public_url("program:edition-detail", year=obj.year)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "<path:object_id>/conflicts/",
                self.admin_site.admin_view(self.conflicts_view),
                name="program_edition_conflicts",
            )
        ]
        return [*own, *super().get_urls()]

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        context = dict(extra_context or {})
        edition_id = _parse_id(unquote(object_id))
        if request.method == "GET" and edition_id:
            edition = Edition.objects.filter(pk=edition_id).first()
            if edition is not None:
                context["conflicts"] = list_conflicts(edition=edition)
                context["conflicts_url"] = _conflicts_url(edition.pk)
        return super().change_view(request, object_id, form_url, context)

    def response_add(
        self, request: HttpRequest, obj: Edition, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        _warn(request, list_conflicts(edition=obj), conflicts_url=_conflicts_url(obj.pk))
        return response

    def response_change(self, request: HttpRequest, obj: Edition) -> HttpResponse:
        response = super().response_change(request, obj)
        _warn(request, list_conflicts(edition=obj), conflicts_url=_conflicts_url(obj.pk))
        return response

    def conflicts_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """Every conflict in the program of one edition, grouped by kind."""
        edition_id = _parse_id(unquote(object_id))
        edition = self.get_object(request, str(edition_id)) if edition_id else None
        if edition is None:
            self.message_user(
                request,
                gettext("There is no edition with ID “%(key)s”.") % {"key": object_id[:40]},
                messages.WARNING,
            )
            return HttpResponseRedirect(reverse("admin:program_edition_changelist"))
        if not self.has_view_or_change_permission(request, edition):
            raise PermissionDenied
        conflicts = list_conflicts(edition=edition)
        titles = {
            "speaker": _("Speakers in two sessions at once"),
            "room": _("Rooms booked twice"),
            "dates": _("Sessions outside the edition's dates"),
        }
        groups = [
            {
                "kind": kind,
                "title": title,
                "rows": [
                    {
                        "message": conflict.message,
                        "sessions": [
                            (reverse("admin:program_session_change", args=[s.pk]), s)
                            for s in conflict.sessions
                        ],
                    }
                    for conflict in conflicts
                    if conflict.kind == kind
                ],
            }
            for kind, title in titles.items()
        ]
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": edition,
            "edition": edition,
            "title": _("Conflicts in the program of %(edition)s") % {"edition": edition},
            "conflicts": conflicts,
            "groups": groups,
            "sessions_url": reverse("admin:program_session_changelist")
            + f"?edition__id__exact={edition.pk}",
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/program/edition/conflicts.html", context)


@admin.register(Room)
class RoomAdmin(GatheringModelAdmin):
    list_display = ("name_text", "slug", "edition", "capacity", "position")
    list_filter = ("edition",)
    list_select_related = ("edition",)
    search_fields = ("slug",)
    translated_search_fields = ("name",)
    ordering = ("-edition__year", "position", "slug")

    @admin.display(description=_("name"))
    def name_text(self, obj: Room) -> SafeString | str:
        return translated_text(obj.name)


@admin.register(Track)
class TrackAdmin(GatheringModelAdmin):
    form = TrackInlineForm
    fields = ("edition", "name", "slug", "color", "position")
    list_display = ("name_text", "slug", "edition", "position")
    list_filter = ("edition",)
    list_select_related = ("edition",)
    search_fields = ("slug",)
    translated_search_fields = ("name",)
    ordering = ("-edition__year", "position", "slug")

    @admin.display(description=_("name"))
    def name_text(self, obj: Track) -> SafeString:
        # An SVG fill, not a style attribute: the Content-Security-Policy allows no inline style.
        return format_html(
            '<svg class="track-swatch" aria-hidden="true" focusable="false" viewBox="0 0 1 1">'
            '<rect width="1" height="1" fill="{}"/></svg>{}',
            obj.color if re.fullmatch(r"#[0-9a-fA-F]{6}", obj.color or "") else "transparent",
            translated_text(obj.name),
        )


@admin.register(Speaker)
class SpeakerAdmin(GatheringModelAdmin):
    list_display = ("name_text", "slug", "role_text", "country", "is_public", "session_count")
    list_filter = ("is_public", "country")
    search_fields = ("slug",)
    translated_search_fields = ("name", "role_title", "affiliation")
    ordering = ("slug",)
    fieldsets = (
        (None, {"fields": ("name", "slug", "is_public")}),
        (_("About"), {"fields": ("role_title", "affiliation", "country", "biography", "photo")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Speaker]:
        speakers: QuerySet[Speaker] = super().get_queryset(request)
        return speakers.annotate(session_total=Count("session_links"))

    @admin.display(description=_("name"), ordering="slug")
    def name_text(self, obj: Speaker) -> SafeString | str:
        return translated_text(obj.name)

    @admin.display(description=_("role or title"))
    def role_text(self, obj: Speaker) -> SafeString | str:
        return translated_text(obj.role_title)

    @admin.display(description=_("sessions"), ordering="session_total")
    def session_count(self, obj: Speaker) -> int:
        return int(getattr(obj, "session_total", 0))

    def view_on_site(self, obj: Speaker) -> str | None:
        if not obj.is_public:
            return None
        return _public_url("program:speaker-detail", slug=obj.slug)


@admin.register(Session)
class SessionAdmin(GatheringModelAdmin):
    form = SessionAdminForm
    inlines = (SessionSpeakerInline,)
    list_display = ("start_local", "title_text", "room", "track", "kind", "edition_year")
    list_display_links = ("start_local", "title_text")
    list_filter = (
        "edition",
        "kind",
        ("track", EditionScopedFilter),
        ("room", EditionScopedFilter),
    )
    list_select_related = ("edition", "room", "track")
    date_hierarchy = "start"
    translated_search_fields = ("title",)
    ordering = ("-edition__year", "start", "room__position", "pk")
    fieldsets = (
        (None, {"fields": ("edition", "title", "kind")}),
        (_("When and where"), {"fields": (("start", "end"), ("room", "track"))}),
        (_("Languages"), {"fields": ("floor_language", "interpretation_languages")}),
        (_("Details"), {"fields": ("abstract", "stream_url")}),
    )

    @admin.display(description=_("start"), ordering="start")
    def start_local(self, obj: Session) -> str:
        from django.utils.dateformat import format as format_date

        return format_date(obj.start.astimezone(obj.edition.tzinfo), "D j M Y, H:i")

    @admin.display(description=_("title"))
    def title_text(self, obj: Session) -> SafeString | str:
        return translated_text(obj.title)

    @admin.display(description=_("edition"), ordering="edition__year")
    def edition_year(self, obj: Session) -> int:
        return obj.edition.year

    def view_on_site(self, obj: Session) -> str | None:
        return _public_url("program:session-detail", year=obj.edition.year, pk=obj.pk)

    def _edition_for(self, request: HttpRequest, object_id: str | None) -> Edition | None:
        """The edition whose time zone the form's times are in: the submitted one, else the
        session's, else the one asked for in the add link (``?edition=``)."""
        source = request.POST if request.method == "POST" else request.GET
        edition_id = _parse_id(source.get("edition"))
        if edition_id is None and object_id is not None:
            session_id = _parse_id(unquote(object_id))
            if session_id:
                edition_id = (
                    Session.objects.filter(pk=session_id)
                    .values_list("edition_id", flat=True)
                    .first()
                )
        if edition_id is None:
            return None
        return Edition.objects.filter(pk=edition_id).first()

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        edition = self._edition_for(request, object_id)
        context = dict(extra_context or {})
        session_id = _parse_id(unquote(object_id)) if object_id else None
        if edition is not None and session_id and request.method == "GET":
            context["conflicts"] = [
                conflict
                for conflict in list_conflicts(edition=edition)
                if any(session.pk == session_id for session in conflict.sessions)
            ]
        if edition is None:
            return super().changeform_view(request, object_id, form_url, context)
        # Times are typed and shown in the edition's time zone, which need not be the server's.
        with timezone.override(edition.tzinfo):
            context["edition_timezone"] = edition.timezone
            response = super().changeform_view(request, object_id, form_url, context)
            if isinstance(response, TemplateResponse):
                response.render()
            return response

    def response_add(
        self, request: HttpRequest, obj: Session, post_url_continue: str | None = None
    ) -> HttpResponse:
        response = super().response_add(request, obj, post_url_continue)
        self._warn_conflicts(request, obj)
        return response

    def response_change(self, request: HttpRequest, obj: Session) -> HttpResponse:
        response = super().response_change(request, obj)
        self._warn_conflicts(request, obj)
        return response

    def _warn_conflicts(self, request: HttpRequest, session: Session) -> None:
        conflicts = [
            conflict
            for conflict in list_conflicts(edition=session.edition)
            if any(other.pk == session.pk for other in conflict.sessions)
        ]
        _warn(request, conflicts, conflicts_url=_conflicts_url(session.edition_id))
