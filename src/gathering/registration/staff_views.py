"""Staff pages of registration: the registration desk's look-up and the press officer's pages.

The desk (``registration.lookup_registration``) helps one person at a time: it looks them up by
ticket code, registration number, whole email address or whole name (in one edition), sees at
most ``selectors.DESK_MAX_MATCHES`` matches (a broader look-up is refused: "be more
specific"), and opens one of them. Look-ups are POSTed, so that names and addresses stay out of
addresses, logs and the browser's history. A desk account may open only the registrations its
own recent look-ups found (kept in its session): it cannot walk through the registrations by
number. Organisers (``registration.view_registration``) may open any.

The press officer (``registration.press_registration``) sees the press accreditations of an
edition and their details, and prints one badge at a time; several badges at once are an export
request (``audit/exports.py``). Any registration outside a press category is a 404 there.

Every look-up, every list and every view of a person is recorded in the audit trail (ids and
the way of looking up, never the value typed). Staff without the permission get a 403, checked
before anything is looked up, so a 404 reveals nothing; anonymous visitors are sent to sign in.
"""

from __future__ import annotations

import logging
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.audit.services import record as audit
from gathering.core.views import render_error
from gathering.program.models import Edition
from gathering.registration import selectors, services
from gathering.registration.badges import BADGE_LAYOUTS, affiliation, badges_pdf
from gathering.registration.errors import RegistrationError
from gathering.registration.forms import DeskSearchForm, StaffActionForm
from gathering.registration.models import Category, Registration

logger = logging.getLogger(__name__)

LOOKUP = "registration.lookup_registration"
VIEW_ALL = "registration.view_registration"
PRESS = "registration.press_registration"
PRINT_BADGES = "registration.print_badges_registration"
# How many registrations found by a desk account's recent look-ups it may open.
DESK_SESSION_KEY = "registration_desk_found"
DESK_REMEMBERED = 25
PRESS_LIST_LIMIT = 500


def mask_email(email: str | None) -> str:
    """``a•••@example.org``: enough for the desk to check an address the person says aloud."""
    if not email or "@" not in email:
        return "—"
    local, _at, domain = email.rpartition("@")
    return f"{local[:1]}•••@{domain}"


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    response = render(request, template, {"private_page": True, **context}, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


@method_decorator(login_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class StaffView(View):
    """Signed-in staff holding one of ``permissions``; the others get a 403."""

    permissions: tuple[str, ...] = ()

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not any(request.user.has_perm(permission) for permission in self.permissions):
            return render_error(request, 403, _("Not allowed"), self.forbidden_text())
        return super().dispatch(request, *args, **kwargs)

    def forbidden_text(self) -> str:
        return _("Only the registration desk and organisers can look registrations up.")


def _act(request: HttpRequest, registration: Registration) -> str:
    """Run the posted action (send the link or ticket again, cancel) on ``registration``;
    returns "" or the error to show."""
    form = StaffActionForm(request.POST)
    if not form.is_valid():
        errors: list[str] = [*form.non_field_errors(), *form.errors.get("action", [])]
        return str(errors[0]) if errors else _("This form is not known.")
    action = form.cleaned_data["action"]
    try:
        if action == "send":
            kind = services.send_again(registration=registration)
            audit(request, action="registration.send_again", obj=registration, summary=kind)
            messages.success(request, _("A new link was emailed to this person."))
        else:
            services.cancel(registration=registration, reason=Registration.CancelReason.BY_STAFF)
            audit(request, action="registration.cancel", obj=registration)
            messages.success(request, _("The registration is cancelled; its ticket is revoked."))
    except RegistrationError as error:
        return str(error.message)
    return ""


def _person(registration: Registration, *, full_email: bool) -> dict[str, Any]:
    ticket = getattr(registration, "ticket", None)
    return {
        "registration": registration,
        "email": (registration.email or "—") if full_email else mask_email(registration.email),
        "ticket": ticket,
        "affiliation": affiliation(registration)
        if registration.category.kind == Category.Kind.PRESS
        else "",
    }


# --- the registration desk -------------------------------------------------------------------


class DeskView(StaffView):
    """The desk's look-up form and its matches."""

    permissions = (LOOKUP,)
    template = "registration/staff/desk.html"

    def editions(self) -> list[tuple[Any, str]]:
        choices = [
            (edition.pk, str(edition.year)) for edition in Edition.objects.order_by("-year")[:50]
        ]
        return [("", "—"), *choices]

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.show(request, DeskSearchForm(editions=self.editions()))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = DeskSearchForm(request.POST, editions=self.editions())
        if not form.is_valid():
            return self.show(request, form, status=400)
        lookup = dict(form.cleaned_data["lookup"])
        edition = None
        if "email" in lookup or "name" in lookup:
            edition = Edition.objects.filter(pk=form.cleaned_data["edition"]).first()
            if edition is None:
                form.add_error("edition", _("Choose an edition from the list."))
                return self.show(request, form, status=400)
        result = selectors.find_for_desk(edition=edition, **lookup)
        audit(
            request,
            action="registration.lookup",
            object_type="registration.registration",
            summary=f"by={result.by} edition={edition.year if edition else '-'} "
            f"matches={'>' + str(selectors.DESK_MAX_MATCHES) if result.too_many else len(result.matches)}",
        )
        remember(request, [registration.pk for registration in result.matches])
        return self.show(request, form, result=result)

    def show(
        self,
        request: HttpRequest,
        form: DeskSearchForm,
        *,
        result: selectors.DeskLookup | None = None,
        status: int = 200,
    ) -> HttpResponse:
        return _page(
            request,
            self.template,
            {
                "form": form,
                "result": result,
                "matches": [
                    _person(registration, full_email=False)
                    for registration in (result.matches if result else [])
                ],
                "max_matches": selectors.DESK_MAX_MATCHES,
            },
            status=status,
        )


def remember(request: HttpRequest, pks: list[int]) -> None:
    """Let this session open the registrations a look-up found (the latest ones only)."""
    found = [pk for pk in request.session.get(DESK_SESSION_KEY, []) if pk not in pks]
    request.session[DESK_SESSION_KEY] = (pks + found)[:DESK_REMEMBERED]


class DeskRegistrationView(StaffView):
    """One registration for the desk: who, which category, status, ticket, delegation; and
    the desk's actions (send the link or ticket again, cancel)."""

    permissions = (LOOKUP,)
    template = "registration/staff/desk_registration.html"

    def registration(self, request: HttpRequest, pk: int) -> Registration:
        allowed = request.user.has_perm(VIEW_ALL) or pk in request.session.get(DESK_SESSION_KEY, [])
        try:
            if not allowed:
                raise Registration.DoesNotExist
            return selectors.get_desk_registration(pk=pk)
        except Registration.DoesNotExist:
            raise Http404(_("There is no such registration among your look-ups.")) from None

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        registration = self.registration(request, pk)
        audit(request, action="registration.view", obj=registration, summary="desk")
        return self.show(request, registration)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        registration = self.registration(request, pk)
        error = _act(request, registration)
        if error:
            return self.show(request, registration, error=error, status=400)
        return HttpResponseRedirect(reverse("registration:desk-registration", args=[pk]))

    def show(
        self,
        request: HttpRequest,
        registration: Registration,
        *,
        error: str = "",
        status: int = 200,
    ) -> HttpResponse:
        return _page(
            request,
            self.template,
            {**_person(registration, full_email=False), "error": error, "back": "desk"},
            status=status,
        )


# --- the press officer -----------------------------------------------------------------------


class PressStaffView(StaffView):
    permissions = (PRESS,)

    def forbidden_text(self) -> str:
        return _("Only press officers and organisers can see press accreditations.")


class PressListView(PressStaffView):
    """The press accreditations of one edition (``?year=``, else the newest with a press
    category)."""

    template = "registration/staff/press_list.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        editions = list(selectors.list_press_editions()[:50])
        year = request.GET.get("year", "")
        if year:
            if not (year.isascii() and year.isdigit() and len(year) <= 4):
                return render_error(
                    request, 400, _("Bad request"), _("Choose an edition from the list.")
                )
            edition = next((edition for edition in editions if edition.year == int(year)), None)
            if edition is None:
                raise Http404(_("This edition has no press accreditations."))
        else:
            edition = editions[0] if editions else None
        rows = []
        total = 0
        if edition is not None:
            press = selectors.list_press_registrations(edition=edition)
            total = press.count()
            rows = [
                _person(registration, full_email=True) for registration in press[:PRESS_LIST_LIMIT]
            ]
            audit(
                request,
                action="registration.press_list",
                object_type="registration.registration",
                summary=f"edition={edition.year} shown={len(rows)}",
            )
        badges_query = ""
        if edition is not None and request.user.has_perm(PRINT_BADGES):
            query = QueryDict(mutable=True)
            query.update({"kind": "registration.badges", "edition": str(edition.pk)})
            query["kinds"] = Category.Kind.PRESS
            badges_query = query.urlencode()
        return _page(
            request,
            self.template,
            {
                "edition": edition,
                "editions": editions,
                "rows": rows,
                "total": total,
                "limit": PRESS_LIST_LIMIT,
                "badges_query": badges_query,
                "layouts": BADGE_LAYOUTS,
            },
        )


class PressRegistrationView(PressStaffView):
    """One press accreditation: details, answers, ticket; send the link again, cancel."""

    template = "registration/staff/press_registration.html"

    def registration(self, pk: int) -> Registration:
        try:
            return selectors.get_press_registration(pk=pk)
        except Registration.DoesNotExist:
            raise Http404(_("There is no such press accreditation.")) from None

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        registration = self.registration(pk)
        audit(request, action="registration.view", obj=registration, summary="press")
        return self.show(request, registration)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        registration = self.registration(pk)
        error = _act(request, registration)
        if error:
            return self.show(request, registration, error=error, status=400)
        return HttpResponseRedirect(reverse("registration:press-registration", args=[pk]))

    def show(
        self,
        request: HttpRequest,
        registration: Registration,
        *,
        error: str = "",
        status: int = 200,
    ) -> HttpResponse:
        answers = registration.answers or {}
        questions = [
            {"label": question.label, "answer": answers.get(question.key, "")}
            for question in registration.category.questions.all()
        ]
        printable = selectors.list_badge_registrations(
            registrations=Registration.objects.filter(pk=registration.pk)
        ).exists()
        return _page(
            request,
            self.template,
            {
                **_person(registration, full_email=True),
                "questions": questions,
                "error": error,
                "can_print": printable and request.user.has_perm(PRINT_BADGES),
                "layouts": BADGE_LAYOUTS,
            },
            status=status,
        )


class PressBadgeView(PressStaffView):
    """One press accreditation's badge as a PDF (``?layout=a6`` or ``labels``)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        if not request.user.has_perm(PRINT_BADGES):
            return render_error(
                request, 403, _("Not allowed"), _("Your role does not allow printing badges.")
            )
        layout = request.GET.get("layout", "a6")
        if layout not in BADGE_LAYOUTS:
            return render_error(
                request, 400, _("Bad request"), _("Choose a layout: A6 badges or a label sheet.")
            )
        try:
            registration = selectors.get_press_registration(pk=pk)
        except Registration.DoesNotExist:
            raise Http404(_("There is no such press accreditation.")) from None
        printable = list(
            selectors.list_badge_registrations(
                registrations=Registration.objects.filter(pk=registration.pk)
            )
        )
        if not printable:
            return render_error(
                request,
                409,
                _("No badge"),
                _("Only confirmed accreditations with a valid ticket get a badge."),
            )
        pdf = badges_pdf(registrations=printable, layout="a6" if layout == "a6" else "labels")
        audit(
            request,
            action="export.badges",
            obj=registration,
            summary=f"layout={layout} count=1 press",
        )
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = (
            f'attachment; filename="badge-{registration.edition.year}-{registration.pk}.pdf"'
        )
        return response
