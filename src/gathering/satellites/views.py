"""Pages of satellite sites: the public list with its map, the application form, a site's page
(its stream and the program in its own time zone), and the staff pages (a coordinator's
dashboard; organisers' decisions on applications and held reports).

Views are thin: a form validates, one service or selector does the work, and a domain error
becomes a message in the visitor's language, never a 500. Public pages never show a contact's
name or email. Staff pages need a signed-in account (``login_required`` sends others to the
staff sign-in) with the coordinator or organiser role (403 otherwise); a coordinator asking
for another site's page gets a 404, as if it did not exist.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections import defaultdict
from typing import Any, cast

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import PasswordResetConfirmView
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.safestring import SafeString
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.audit.services import record as audit
from gathering.core.cache import cached_page
from gathering.core.translated import set_fallback_language
from gathering.core.views import render_error
from gathering.program import selectors as program_selectors
from gathering.program.models import Edition
from gathering.program.views import get_edition_or_404
from gathering.registration.countries import country_name
from gathering.satellites import selectors, services
from gathering.satellites.errors import (
    InvalidReportError,
    InvalidSiteDataError,
    ReportDecisionError,
    SiteDecisionError,
    SiteError,
)
from gathering.satellites.forms import (
    AttendanceReportForm,
    ChannelForm,
    SiteApplicationForm,
    TicketsForm,
)
from gathering.satellites.models import AttendanceReport, Site

logger = logging.getLogger(__name__)

private = method_decorator(never_cache, name="dispatch")
# Approvals and reports bump the namespace's version; the program inside a site's page
# follows the clock and program edits within this many seconds.
cached = method_decorator(cast(Any, cached_page(services.PAGE_CACHE, seconds=60)), name="dispatch")

DECIDE_SITES = "satellites.change_site"
REVIEW_REPORTS = "satellites.change_attendancereport"
_DECISION = re.compile(r"(approve|reject|accept-report|reject-report):([1-9][0-9]{0,17})")


def page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    edition: Edition | None,
    tz: dt.tzinfo | None = None,
    status: int = 200,
    private_page: bool = False,
) -> HttpResponse:
    """Render now, in ``tz`` (default: the edition's time zone); private pages are kept out of
    search engines."""
    zone = tz or (edition.tzinfo if edition is not None else timezone.get_current_timezone())
    with timezone.override(zone):
        response = render(
            request,
            template,
            {"edition": edition, "nav": "sites", "private_page": private_page, **context},
            status=status,
        )
    if private_page:
        response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _world_map(sites: dict[str, int], people: dict[str, int]) -> SafeString | None:
    """Countries shaded by their number of sites, a circle where people are reported."""
    try:
        from gathering.core.worldmap import render_world_map
    except ImportError:  # the map module comes with the live counters
        return None
    return render_world_map(
        counts=sites,
        markers={code: count for code, count in people.items() if count > 0},
        label=_("Satellite sites by country"),
    )


# --- public pages ----------------------------------------------------------------------------


@cached
class SiteListView(View):
    """The approved sites of an edition on a world map, grouped by country, with counts."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        sites = list(selectors.list_public_sites(edition=edition))
        grouped: dict[str, list[Site]] = defaultdict(list)
        for site in sites:
            grouped[site.country].append(site)
        language = get_language()
        groups = sorted(
            (
                {"code": code, "name": country_name(code, language), "sites": members}
                for code, members in grouped.items()
            ),
            key=lambda group: str(group["name"]).casefold(),
        )
        rows = [
            {"code": row.country, "name": country_name(row.country, language), "row": row}
            for row in selectors.count_sites_by_country(edition=edition)
        ]
        figures = selectors.live_figures(edition=edition)
        return page(
            request,
            "satellites/site_list.html",
            {
                "groups": groups,
                "country_rows": rows,
                "figures": figures,
                "site_total": len(sites),
                "world_map": _world_map(
                    {code: len(members) for code, members in grouped.items()}, figures.by_country
                ),
                "applications_open": services.applications_open(edition),
            },
            edition=edition,
        )


@private
class SiteApplyView(View):
    """The application form of a site coordinator (works without JavaScript)."""

    template = "satellites/site_apply.html"

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        return self.show(request, edition, SiteApplicationForm(edition=edition))

    def post(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        form = SiteApplicationForm(request.POST, edition=edition)
        if not services.applications_open(edition):
            return self.show(request, edition, form, status=409)
        if not form.is_valid():
            return self.show(request, edition, form, status=400)
        data = form.cleaned_data
        try:
            services.apply_for_site(
                edition=edition,
                name=data["name"],
                city=data["city"],
                country=data["country"],
                is_online=bool(data.get("is_online")),
                venue=data.get("venue", ""),
                expected_attendance=data["expected_attendance"],
                timezone_name=data["timezone"],
                contact_name=data["contact_name"],
                contact_email=data["contact_email"],
                language=data["language"],
                consent_given=bool(data.get("consent")),
            )
        except InvalidSiteDataError as error:
            for field, field_messages in error.errors.items():
                for message in field_messages:
                    form.add_error(field if field in form.fields else None, message)
            return self.show(request, edition, form, status=400)
        except SiteError as error:
            form.add_error(None, str(error.message))
            return self.show(request, edition, form, status=409)
        return HttpResponseRedirect(reverse("satellites:site-apply-sent", args=[edition.year]))

    def show(
        self, request: HttpRequest, edition: Edition, form: SiteApplicationForm, status: int = 200
    ) -> HttpResponse:
        return page(
            request,
            self.template,
            {"form": form, "applications_open": services.applications_open(edition)},
            edition=edition,
            status=status,
        )


class SiteApplySentView(View):
    """After applying: the same page for a first and a repeated application."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        return page(request, "satellites/site_apply_sent.html", {}, edition=edition)


def _program_days(edition: Edition, tz: dt.tzinfo) -> list[dict[str, Any]]:
    """The edition's sessions grouped by their day in ``tz`` (the site's time zone)."""
    days: dict[dt.date, list[Any]] = {}
    for session in program_selectors.list_sessions(edition=edition):
        days.setdefault(session.start.astimezone(tz).date(), []).append(session)
    return [{"day": day, "sessions": sessions} for day, sessions in days.items()]


@cached
class SiteDetailView(View):
    """A site: its place, its stream and the edition's channels, and the program in the site's
    local time zone. No contact details."""

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        edition = get_edition_or_404(year)
        try:
            site = selectors.get_public_site(edition=edition, slug=slug)
        except Site.DoesNotExist:
            raise Http404(_("There is no such site.")) from None
        channels = list(selectors.list_channels(edition=edition))
        main = next((channel for channel in channels if channel.is_main), None)
        tz = site.tzinfo
        return page(
            request,
            "satellites/site_detail.html",
            {
                "site": site,
                "country_name": country_name(site.country, get_language()),
                "channel": site.channel or main,
                "channels": channels,
                "days": _program_days(edition, tz),
                "same_zone": site.timezone == edition.timezone,
            },
            edition=edition,
            tz=tz,
        )


# --- staff pages -----------------------------------------------------------------------------


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render_error(
        request,
        403,
        _("Not allowed"),
        _("Only site coordinators and organisers can use these pages."),
    )


@method_decorator(login_required, name="dispatch")
@private
class StaffView(View):
    """Signed-in site coordinators and organisers; the others get a 403."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        user = request.user
        if not (user.has_perm(selectors.COORDINATE) or selectors.sees_every_site(user)):
            return _forbidden(request)
        return super().dispatch(request, *args, **kwargs)


class SiteStaffListView(StaffView):
    """A coordinator's sites; organisers see every site, the applications waiting for a
    decision and the reports held for review, and decide on them here."""

    template = "satellites/staff_site_list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        match = _DECISION.fullmatch(request.POST.get("decide", ""))
        if match is None:
            return self.show(
                request,
                error=_("This form is not known. Reload the page and try again."),
                status=400,
            )
        action, pk = match.group(1), int(match.group(2))
        if action in {"approve", "reject"}:
            return self.decide_site(request, action=action, pk=pk)
        return self.review(request, accept=action == "accept-report", pk=pk)

    def decide_site(self, request: HttpRequest, *, action: str, pk: int) -> HttpResponse:
        if not request.user.has_perm(DECIDE_SITES):
            return _forbidden(request)
        site = Site.objects.filter(pk=pk).first()
        if site is None:
            raise Http404(_("There is no such site."))
        try:
            if action == "approve":
                services.approve_site(site=site, by=request.user)
                messages.success(
                    request,
                    _("“%(name)s” is approved. Its coordinator receives an email to sign in.")
                    % {"name": site.name},
                )
            else:
                services.reject_site(site=site, by=request.user)
                messages.success(request, _("“%(name)s” is rejected.") % {"name": site.name})
        except SiteDecisionError as error:
            messages.warning(request, str(error.message))
        else:
            audit(request, action=f"site.{action}", obj=site)
        return HttpResponseRedirect(reverse("satellites:site-staff-list") + "#applications")

    def review(self, request: HttpRequest, *, accept: bool, pk: int) -> HttpResponse:
        if not request.user.has_perm(REVIEW_REPORTS):
            return _forbidden(request)
        report = AttendanceReport.objects.filter(pk=pk).first()
        if report is None:
            raise Http404(_("There is no such report."))
        try:
            services.review_report(report=report, accept=accept, by=request.user)
        except ReportDecisionError as error:
            messages.warning(request, str(error.message))
        else:
            audit(request, action="report.accept" if accept else "report.reject", obj=report)
            messages.success(
                request,
                _("The report is accepted: it counts now.")
                if accept
                else _("The report is rejected: it does not count."),
            )
        return HttpResponseRedirect(reverse("satellites:site-staff-list") + "#held")

    def show(self, request: HttpRequest, *, error: str = "", status: int = 200) -> HttpResponse:
        user = request.user
        context: dict[str, Any] = {
            "sites": list(selectors.list_sites_of(user=user)[:500]),
            "error": error,
            "can_decide": user.has_perm(DECIDE_SITES),
            "can_review": user.has_perm(REVIEW_REPORTS),
        }
        if context["can_decide"]:
            context["pending"] = list(selectors.list_pending_sites()[:200])
        if context["can_review"]:
            context["held"] = list(selectors.list_held_reports()[:200])
        return page(
            request,
            self.template,
            context,
            edition=None,
            tz=timezone.get_current_timezone(),
            status=status,
            private_page=True,
        )


class SiteDashboardView(StaffView):
    """One site for its coordinator (or an organiser): report attendance, see the reports and
    the gates' counts, choose the stream, check tickets or not."""

    template = "satellites/staff_site_dashboard.html"

    def site(self, request: HttpRequest, pk: int) -> Site:
        try:
            site = selectors.get_site_of(user=request.user, pk=pk)
        except Site.DoesNotExist:
            raise Http404(_("There is no such site.")) from None
        set_fallback_language(site.edition.default_language)
        return site

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        site = self.site(request, pk)
        return self.show(request, site)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        site = self.site(request, pk)
        action = request.POST.get("form", "")
        if action == "report":
            return self.report(request, site)
        if action == "channel":
            return self.channel(request, site)
        if action == "tickets":
            return self.tickets(request, site)
        return self.show(
            request,
            site,
            error=_("This form is not known. Reload the page and try again."),
            status=400,
        )

    def report(self, request: HttpRequest, site: Site) -> HttpResponse:
        # Times typed in the form are the site's local time.
        with timezone.override(site.tzinfo):
            form = AttendanceReportForm(request.POST)
            valid = form.is_valid()
        if not valid:
            return self.show(request, site, report_form=form, status=400)
        data = form.cleaned_data
        try:
            report = services.report_attendance(
                site=site,
                count=data["count"],
                reported_at=data.get("reported_at") or timezone.now(),
                note=data.get("note", ""),
                by=request.user,
            )
        except InvalidReportError as error:
            form.add_error(error.field if error.field in form.fields else None, str(error.message))
            return self.show(request, site, report_form=form, status=400)
        except SiteError as error:
            form.add_error(None, str(error.message))
            return self.show(request, site, report_form=form, status=409)
        audit(request, action="site.report_attendance", obj=report)
        if report.status == AttendanceReport.Status.HELD:
            messages.warning(
                request,
                _(
                    "This count is more than ten times the attendance your site expected, so it "
                    "is held: it counts once the organisers have checked it. If you mistyped it, "
                    "report the right count now."
                ),
            )
        else:
            messages.success(request, _("Thank you: the count is recorded."))
        return HttpResponseRedirect(reverse("satellites:site-dashboard", args=[site.pk]))

    def channel(self, request: HttpRequest, site: Site) -> HttpResponse:
        form = ChannelForm(request.POST, edition=site.edition)
        if not form.is_valid():
            return self.show(request, site, channel_form=form, status=400)
        try:
            services.choose_channel(
                site=site, channel=form.cleaned_data["channel"], by=request.user
            )
        except SiteError as error:
            form.add_error("channel", str(error.message))
            return self.show(request, site, channel_form=form, status=400)
        audit(request, action="site.channel", obj=site)
        messages.success(request, _("The stream of your site is saved."))
        return HttpResponseRedirect(reverse("satellites:site-dashboard", args=[site.pk]))

    def tickets(self, request: HttpRequest, site: Site) -> HttpResponse:
        form = TicketsForm(request.POST)
        form.is_valid()  # a checkbox: never invalid
        try:
            services.set_uses_tickets(
                site=site, uses_tickets=bool(form.cleaned_data.get("uses_tickets")), by=request.user
            )
        except SiteError as error:
            return self.show(request, site, error=str(error.message), status=409)
        audit(request, action="site.tickets", obj=site)
        messages.success(request, _("Saved."))
        return HttpResponseRedirect(reverse("satellites:site-dashboard", args=[site.pk]))

    def show(
        self,
        request: HttpRequest,
        site: Site,
        *,
        report_form: AttendanceReportForm | None = None,
        channel_form: ChannelForm | None = None,
        error: str = "",
        status: int = 200,
    ) -> HttpResponse:
        edition = site.edition
        return page(
            request,
            self.template,
            {
                "site": site,
                "country_name": country_name(site.country, get_language()),
                "report_form": report_form or AttendanceReportForm(),
                "channel_form": channel_form
                or ChannelForm(edition=edition, initial={"channel": site.channel_id}),
                "tickets_form": TicketsForm(initial={"uses_tickets": site.uses_tickets}),
                "reports": selectors.list_reports(site=site),
                "gates": selectors.count_site_gates(site=site),
                "attendance": selectors.count_site_attendance(site=site),
                "error": error,
            },
            edition=edition,
            tz=site.tzinfo,
            status=status,
            private_page=True,
        )


# --- choosing a password (the link in the approval email) -----------------------------------


class SitePasswordSetView(PasswordResetConfirmView):
    """The private link of the approval email: the new coordinator chooses a password, then
    signs in on the staff sign-in page."""

    template_name = "satellites/password_set.html"
    success_url = reverse_lazy("satellites:password-set-done")

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context.update({"nav": "sites", "private_page": True})
        return context


class SitePasswordSetDoneView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return page(
            request,
            "satellites/password_set_done.html",
            {"next": reverse("satellites:site-staff-list")},
            edition=None,
            private_page=True,
        )
