"""The bulk exports of personal data, each made only through an approved request.

Every export here hands many people's personal data to one member of staff at once, so none is
made on the spot: someone asks (``services.request_export``, with a reason), an organiser other
than them approves (``services.decide_export``), and then the one who asked may download it at
most ``MAX_DOWNLOADS`` times within ``DOWNLOAD_WINDOW`` of the approval
(``services.download_export``). Exports of anonymous figures (counts by country, the public
audit of a campaign) are not here: anyone may have those.

A kind (:class:`ExportKind`) turns what a form posted into ``params`` (ids and choices only,
never personal data) and a description for the approver (titles and counts, no names); says
who may ask for it (checked again at download: a role taken away in between stops it); and
builds the file. The kinds:

- ``voices.signatories``: a campaign's signatories who agreed to be named (CSV or PDF), for
  delivery; organisers (``voices.view_signature``).
- ``registration.badges``: badges (names, affiliations, ticket codes) as a PDF, of selected
  registrations or of every badge of an edition's categories of some kinds; organisers, and
  press officers for press accreditations only.
- ``audit.events``: the audit trail as CSV (staff usernames and addresses); organisers.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db.models import Q, QuerySet
from django.http import QueryDict
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

# After approval: how long, and how many times, the one who asked may download the file.
DOWNLOAD_WINDOW = dt.timedelta(hours=24)
MAX_DOWNLOADS = 3
# A request waiting longer than this can no longer be approved: ask again.
DECISION_WINDOW = dt.timedelta(days=7)
# Registrations one badge request may select (the back office's "select all" included).
MAX_IDS = 20_000
AUDIT_EXPORT_LIMIT = 100_000


class ExportParamsError(Exception):
    """What was posted does not make an export: ``message`` (translated) says why."""

    def __init__(self, message: str) -> None:
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class ExportFile:
    content: bytes | Iterator[str]
    content_type: str
    filename: str


def _id(value: Any) -> int | None:
    text = str(value)
    if text.isascii() and text.isdigit() and 0 < len(text) <= 18 and int(text) > 0:
        return int(text)
    return None


def _first(data: Mapping[str, Any], key: str) -> str:
    if isinstance(data, QueryDict):
        return str(data.get(key, ""))[:200]
    value = data.get(key, "")
    if isinstance(value, list | tuple):
        value = value[0] if value else ""
    return str(value)[:200]


def _all(data: Mapping[str, Any], key: str) -> list[str]:
    if isinstance(data, QueryDict):
        return [str(value) for value in data.getlist(key)]
    value = data.get(key, [])
    return [str(item) for item in (value if isinstance(value, list | tuple) else [value])]


class ExportKind:
    code: str
    label: Promise

    def clean(self, user: Any, data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        """``(params, description)`` from posted ``data``; raises ExportParamsError."""
        raise NotImplementedError

    def allowed(self, user: Any, params: Mapping[str, Any]) -> bool:
        """May ``user`` ask for (and later download) this export?"""
        raise NotImplementedError

    def fields(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """``params`` as form fields (name, value), to be posted again with the reason."""
        return [
            (name, str(item))
            for name, value in params.items()
            for item in (value if isinstance(value, list) else [value])
        ]

    def build(self, params: Mapping[str, Any], *, language: str) -> ExportFile:
        raise NotImplementedError


# --- named signatories -----------------------------------------------------------------------


class SignatoriesExport(ExportKind):
    code = "voices.signatories"
    label = gettext_lazy("Named signatories of a campaign")
    permission = "voices.view_signature"
    formats = ("csv", "pdf")

    def _campaign(self, pk: int | None) -> Any:
        from gathering.voices.models import Campaign

        campaign = Campaign.objects.select_related("edition").filter(pk=pk).first() if pk else None
        if campaign is None:
            raise ExportParamsError(_("There is no such campaign."))
        return campaign

    def clean(self, user: Any, data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        fmt = _first(data, "format")
        if fmt not in self.formats:
            raise ExportParamsError(_("Choose CSV or PDF."))
        campaign = self._campaign(_id(_first(data, "campaign")))
        description = _("%(title)s (%(year)s): signatories who agreed to be named, %(format)s") % {
            "title": str(campaign.title) or campaign.slug,
            "year": campaign.edition.year,
            "format": fmt.upper(),
        }
        return {"campaign": campaign.pk, "format": fmt}, description

    def allowed(self, user: Any, params: Mapping[str, Any]) -> bool:
        return bool(user.has_perm(self.permission))

    def build(self, params: Mapping[str, Any], *, language: str) -> ExportFile:
        from gathering.voices import exports

        campaign = self._campaign(_id(params.get("campaign")))
        fmt = str(params.get("format"))
        if fmt == "csv":
            return ExportFile(
                exports.signatories_csv(campaign=campaign, language=language),
                "text/csv; charset=utf-8",
                f"{campaign.slug}-signatories-{language}.csv",
            )
        return ExportFile(
            exports.signatories_pdf(campaign=campaign, language=language),
            "application/pdf",
            f"{campaign.slug}-signatories-{language}.pdf",
        )


# --- badges ----------------------------------------------------------------------------------


class BadgesExport(ExportKind):
    """Either ``ids`` (registrations chosen in the back office) or ``edition`` and ``kinds``
    (every badge of those categories); ``layout`` is "a6" or "labels"."""

    code = "registration.badges"
    label = gettext_lazy("Badges")

    @staticmethod
    def sees_all(user: Any) -> bool:
        return bool(
            user.has_perm("registration.print_badges_registration")
            and user.has_perm("registration.view_registration")
        )

    @staticmethod
    def sees_press(user: Any) -> bool:
        return bool(
            user.has_perm("registration.print_badges_registration")
            and user.has_perm("registration.press_registration")
        )

    def registrations(self, params: Mapping[str, Any]) -> QuerySet[Any]:
        from gathering.registration.models import Registration

        ids = [pk for pk in (_id(value) for value in params.get("ids") or []) if pk]
        if ids:
            return Registration.objects.filter(pk__in=ids)
        edition = _id(params.get("edition"))
        kinds = [str(kind) for kind in params.get("kinds") or []]
        if edition is None or not kinds:
            return Registration.objects.none()
        return Registration.objects.filter(edition_id=edition, category__kind__in=kinds)

    def clean(self, user: Any, data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        from gathering.program.models import Edition
        from gathering.registration.badges import BADGE_LAYOUTS
        from gathering.registration.models import Category, Registration
        from gathering.registration.selectors import BADGE_KINDS

        layout = _first(data, "layout")
        if layout not in BADGE_LAYOUTS:
            raise ExportParamsError(_("Choose a layout: A6 badges or a label sheet."))
        raw_ids = _all(data, "ids")
        if raw_ids:
            if len(raw_ids) > MAX_IDS:
                raise ExportParamsError(
                    _("Select at most %(n)s registrations at once.") % {"n": MAX_IDS}
                )
            ids = sorted({pk for pk in (_id(value) for value in raw_ids) if pk})
            found = list(Registration.objects.filter(pk__in=ids).values_list("pk", flat=True))
            if not found:
                raise ExportParamsError(_("None of the selected registrations exists."))
            params: dict[str, Any] = {"ids": sorted(found), "layout": layout}
            description = _("Badges (%(layout)s) of %(n)s selected registrations") % {
                "layout": layout,
                "n": len(found),
            }
            return params, description
        edition = Edition.objects.filter(pk=_id(_first(data, "edition")) or 0).first()
        if edition is None:
            raise ExportParamsError(_("There is no such edition."))
        kinds = sorted(set(_all(data, "kinds")))
        if not kinds or not set(kinds) <= {str(kind) for kind in BADGE_KINDS}:
            raise ExportParamsError(_("Choose the categories: press, guests or volunteers."))
        labels = ", ".join(str(Category.Kind(kind).label) for kind in kinds)
        description = _("Badges (%(layout)s) of %(kinds)s, %(year)s") % {
            "layout": layout,
            "kinds": labels,
            "year": edition.year,
        }
        return {"edition": edition.pk, "kinds": kinds, "layout": layout}, description

    def allowed(self, user: Any, params: Mapping[str, Any]) -> bool:
        from gathering.registration.models import Category

        if self.sees_all(user):
            return True
        if not self.sees_press(user):
            return False
        # A press officer: press accreditations and nothing else.
        if not params.get("ids") and list(params.get("kinds") or []) != [Category.Kind.PRESS]:
            return False
        others = self.registrations(params).filter(~Q(category__kind=Category.Kind.PRESS))
        return not others.exists()

    def build(self, params: Mapping[str, Any], *, language: str) -> ExportFile:
        from gathering.registration.badges import BADGE_LAYOUTS, BadgeLayout, badges_pdf
        from gathering.registration.selectors import list_badge_registrations

        layout: BadgeLayout = next(
            (layout for layout in BADGE_LAYOUTS if layout == params.get("layout")), "a6"
        )
        printable = list(list_badge_registrations(registrations=self.registrations(params)))
        if not printable:
            raise ExportParamsError(
                _("None of these registrations has a badge (any more): nothing to print.")
            )
        years = sorted({registration.edition.year for registration in printable})
        return ExportFile(
            badges_pdf(registrations=printable, layout=layout),
            "application/pdf",
            f"badges-{'-'.join(map(str, years))}-{layout}.pdf",
        )


# --- the audit trail -------------------------------------------------------------------------

_FORMULA = ("=", "+", "-", "@", "\t", "\r")
AUDIT_COLUMNS = (
    "at",
    "actor_username",
    "action",
    "object_type",
    "object_id",
    "summary",
    "ip",
    "user_agent",
)


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    # A spreadsheet runs a cell that starts with one of these as a formula.
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


class AuditEventsExport(ExportKind):
    code = "audit.events"
    label = gettext_lazy("Audit trail (CSV)")
    permission = "audit.view_auditevent"

    def clean(self, user: Any, data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
        from gathering.audit.forms import AuditFilterForm

        values = {
            key: _first(data, key)
            for key in ("actor", "action", "object_type", "start", "end")
            if _first(data, key)
        }
        form = AuditFilterForm(values)
        if not form.is_valid():
            raise ExportParamsError(
                _("The filters are not valid: correct them on the trail's page.")
            )
        filters = {
            key: value.isoformat() if isinstance(value, dt.date) else str(value)
            for key, value in form.filters().items()
        }
        shown = ", ".join(f"{key}={value}" for key, value in sorted(filters.items()))
        description = _("Audit trail, CSV (%(filters)s)") % {"filters": shown or _("every event")}
        return {"filters": filters}, description[:300]

    def fields(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        return [(key, str(value)) for key, value in (params.get("filters") or {}).items()]

    def allowed(self, user: Any, params: Mapping[str, Any]) -> bool:
        return bool(user.has_perm(self.permission))

    def build(self, params: Mapping[str, Any], *, language: str) -> ExportFile:
        from gathering.audit import selectors

        filters: dict[str, Any] = {}
        for key, value in (params.get("filters") or {}).items():
            if key in {"start", "end"}:
                filters[key] = dt.date.fromisoformat(str(value))
            elif key in {"actor", "action", "object_type"}:
                filters[key] = str(value)
        events = selectors.list_events(**filters)[:AUDIT_EXPORT_LIMIT]
        writer = csv.writer(_Echo())

        def rows() -> Iterator[str]:
            yield writer.writerow(AUDIT_COLUMNS)
            for event in events.iterator(chunk_size=2000):
                yield writer.writerow(
                    [
                        event.at.isoformat(),
                        *(_cell(getattr(event, column)) for column in AUDIT_COLUMNS[1:]),
                    ]
                )

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return ExportFile(rows(), "text/csv; charset=utf-8", f"audit-{stamp}.csv")


KINDS: dict[str, ExportKind] = {
    kind.code: kind for kind in (SignatoriesExport(), BadgesExport(), AuditEventsExport())
}


def get_kind(code: str) -> ExportKind:
    """The kind called ``code``; raises ExportParamsError for any other text."""
    kind = KINDS.get(str(code)[:40])
    if kind is None:
        raise ExportParamsError(_("This export is not known."))
    return kind


def kinds_for(user: Any) -> Sequence[ExportKind]:
    """The kinds ``user`` may ask for (with some parameters)."""
    result: list[ExportKind] = []
    for kind in KINDS.values():
        if isinstance(kind, BadgesExport):
            if kind.sees_all(user) or kind.sees_press(user):
                result.append(kind)
        elif kind.allowed(user, {}):
            result.append(kind)
    return result
