"""Public registration pages: register, confirm, manage by private link, ticket, delegations.

Views are thin: a form validates, one service or selector does the work, and a domain error
(``errors.py``) becomes a message in the visitor's language, never a 500. Pages reached by a
private link are never cached and not indexed; an unknown or replaced link is a 404 page.

Whether an email address is registered is never revealed: registering again, or asking for
the link, shows the same "check your email" page as a first registration, and the email
itself says what happened.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.timezone import now
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.core.translated import set_fallback_language
from gathering.program.models import Edition
from gathering.program.views import get_edition_or_404
from gathering.registration import selectors, services
from gathering.registration.errors import RegistrationError
from gathering.registration.forms import (
    ConfirmActionForm,
    ConsentForm,
    DelegationForm,
    DelegationRegistrationForm,
    DetailsForm,
    LinkResendForm,
    MemberAddForm,
    RegistrationForm,
)
from gathering.registration.models import Category, Delegation, Registration
from gathering.registration.tickets import qr_svg, ticket_code, ticket_pdf

private = method_decorator(never_cache, name="dispatch")


def get_registration_or_404(token: str) -> Registration:
    try:
        registration = selectors.get_registration_by_token(token=token)
    except Registration.DoesNotExist:
        raise Http404(
            _("This link is not valid. It may have been replaced by a newer one.")
        ) from None
    set_fallback_language(registration.edition.default_language)
    return registration


def page(
    request: HttpRequest,
    template: str,
    context: dict[str, Any],
    *,
    edition: Edition,
    status: int = 200,
    private_page: bool = False,
) -> HttpResponse:
    """Render now, in the edition's time zone; private pages are kept out of search engines."""
    with timezone.override(edition.tzinfo):
        response = render(
            request,
            template,
            {"edition": edition, "private_page": private_page, **context},
            status=status,
        )
    if private_page:
        response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def manage_url(token: str) -> str:
    return reverse("registration:registration-manage", kwargs={"token": token})


# --- registering -----------------------------------------------------------------------------


class CategoryListView(View):
    """The public categories of an edition, with whether each is open and has places."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        moment = now()
        categories = [
            {
                "category": category,
                "is_open": category.is_open(moment),
                "opens_later": category.opens_at > moment,
                "is_full": services.count_free_places(category) == 0,
            }
            for category in selectors.list_public_categories(edition=edition)
        ]
        try:
            delegation_category = selectors.get_delegation_category(edition=edition)
        except Category.DoesNotExist:
            delegation_category = None
        return page(
            request,
            "registration/category_list.html",
            {
                "nav": "register",
                "categories": categories,
                "delegations_open": bool(
                    delegation_category and delegation_category.is_open(moment)
                ),
            },
            edition=edition,
        )


def _get_open_category(edition: Edition, slug: str) -> Category:
    try:
        category = selectors.get_category(edition=edition, slug=slug)
    except Category.DoesNotExist:
        raise Http404(_("There is no such registration category.")) from None
    if not category.is_public:
        raise Http404(_("There is no such registration category."))
    return category


@private
class RegistrationCreateView(View):
    """The registration form of one public category (works without JavaScript)."""

    template = "registration/registration_form.html"

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        edition = get_edition_or_404(year)
        category = _get_open_category(edition, slug)
        return self.show(request, edition, category, RegistrationForm(category=category))

    def post(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        edition = get_edition_or_404(year)
        category = _get_open_category(edition, slug)
        form = RegistrationForm(request.POST, category=category)
        if not form.is_valid():
            return self.show(request, edition, category, form, status=400)
        try:
            services.register(
                category=category,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                language=form.cleaned_data["language"],
                country=form.cleaned_data["country"],
                phone=form.cleaned_data["phone"],
                answers=form.answers(),
                consent=form.cleaned_data["consent"],
            )
        except RegistrationError as error:
            form.add_error(None, str(error.message))
            return self.show(request, edition, category, form, status=409)
        return HttpResponseRedirect(reverse("registration:registration-sent", args=[year]))

    def show(
        self,
        request: HttpRequest,
        edition: Edition,
        category: Category,
        form: RegistrationForm,
        status: int = 200,
    ) -> HttpResponse:
        return page(
            request,
            self.template,
            {
                "nav": "register",
                "category": category,
                "form": form,
                "is_open": category.is_open(),
                "is_full": services.count_free_places(category) == 0,
            },
            edition=edition,
            status=status,
        )


class RegistrationSentView(View):
    """After registering (or asking for the link): the same page in every case."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        return page(request, "registration/sent.html", {"nav": "register"}, edition=edition)


@private
class LinkResendView(View):
    """Lost the link: enter the email address and, if it is registered, get a new link."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        return self.show(request, edition, LinkResendForm())

    def post(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        form = LinkResendForm(request.POST)
        if not form.is_valid():
            return self.show(request, edition, form, status=400)
        services.resend_link(edition=edition, email=form.cleaned_data["email"])
        return HttpResponseRedirect(reverse("registration:registration-sent", args=[year]))

    def show(
        self, request: HttpRequest, edition: Edition, form: LinkResendForm, status: int = 200
    ) -> HttpResponse:
        return page(
            request,
            "registration/link_resend.html",
            {"nav": "register", "form": form},
            edition=edition,
            status=status,
        )


# --- the private link ------------------------------------------------------------------------


@private
class RegistrationConfirmView(View):
    """The link in the first email: a button to confirm (and consent, for a member added by
    a delegation leader). A GET changes nothing, so mail scanners that open links do not
    confirm anyone."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        if registration.status == Registration.Status.CONFIRMED:
            return HttpResponseRedirect(manage_url(token))
        form = ConsentForm(
            needs_consent=not registration.has_consented,
            retention_days=registration.edition.retention_days,
        )
        return self.show(request, registration, form)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        form = ConsentForm(
            request.POST,
            needs_consent=not registration.has_consented,
            retention_days=registration.edition.retention_days,
        )
        if not form.is_valid():
            return self.show(request, registration, form, status=400)
        try:
            services.confirm_email(token=token, consent=bool(form.cleaned_data.get("consent")))
        except RegistrationError as error:
            form.add_error(None, str(error.message))
            return self.show(request, registration, form, status=409)
        return HttpResponseRedirect(manage_url(token))

    def show(
        self, request: HttpRequest, registration: Registration, form: ConsentForm, status: int = 200
    ) -> HttpResponse:
        return page(
            request,
            "registration/confirm.html",
            {"registration": registration, "form": form},
            edition=registration.edition,
            status=status,
            private_page=True,
        )


@private
class OfferAcceptView(View):
    """The link in the waiting-list offer: accept the place before its deadline."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        if registration.status != Registration.Status.OFFERED:
            return HttpResponseRedirect(manage_url(token))
        form = ConsentForm(
            needs_consent=not registration.has_consented,
            retention_days=registration.edition.retention_days,
        )
        return self.show(request, registration, form)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        form = ConsentForm(
            request.POST,
            needs_consent=not registration.has_consented,
            retention_days=registration.edition.retention_days,
        )
        if not form.is_valid():
            return self.show(request, registration, form, status=400)
        try:
            services.accept_offer(token=token, consent=bool(form.cleaned_data.get("consent")))
        except RegistrationError as error:
            form.add_error(None, str(error.message))
            return self.show(request, registration, form, status=409)
        return HttpResponseRedirect(manage_url(token))

    def show(
        self, request: HttpRequest, registration: Registration, form: ConsentForm, status: int = 200
    ) -> HttpResponse:
        return page(
            request,
            "registration/offer_accept.html",
            {"registration": registration, "form": form},
            edition=registration.edition,
            status=status,
            private_page=True,
        )


@private
class RegistrationManageView(View):
    """The private page: what we hold, change name and language, links to cancel, download
    and erase. A POST changes the name and language."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        form = DetailsForm(initial={"name": registration.name, "language": registration.language})
        return self.show(request, token, registration, form)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        form = DetailsForm(request.POST)
        if not form.is_valid():
            return self.show(request, token, registration, form, status=400)
        try:
            services.update_details(
                registration=registration,
                name=form.cleaned_data["name"],
                language=form.cleaned_data["language"],
            )
        except RegistrationError as error:
            form.add_error(None, str(error.message))
            return self.show(request, token, registration, form, status=409)
        # Show the page in the newly chosen language.
        with_language = reverse_in(form.cleaned_data["language"], token)
        return HttpResponseRedirect(with_language + "?saved=1")

    def show(
        self,
        request: HttpRequest,
        token: str,
        registration: Registration,
        form: DetailsForm,
        status: int = 200,
    ) -> HttpResponse:
        questions = {q.key: q for q in registration.category.questions.all()}
        answers = [
            (questions.get(key, key), value) for key, value in (registration.answers or {}).items()
        ]
        return page(
            request,
            "registration/manage.html",
            {
                "registration": registration,
                "token": token,
                "form": form,
                "answers": answers,
                "ticket": selectors.get_ticket(registration=registration),
                "led_delegation": selectors.get_led_delegation(registration=registration),
                "saved": request.GET.get("saved") == "1",
            },
            edition=registration.edition,
            status=status,
            private_page=True,
        )


def reverse_in(language: str, token: str) -> str:
    from django.utils import translation

    with translation.override(language):
        return manage_url(token)


@private
class RegistrationCancelView(View):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        return self.show(request, token, registration, ConfirmActionForm())

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        form = ConfirmActionForm(request.POST)
        if not form.is_valid():
            return self.show(request, token, registration, form, status=400)
        services.cancel(registration=registration)
        return HttpResponseRedirect(manage_url(token))

    def show(
        self,
        request: HttpRequest,
        token: str,
        registration: Registration,
        form: ConfirmActionForm,
        status: int = 200,
    ) -> HttpResponse:
        return page(
            request,
            "registration/cancel.html",
            {"registration": registration, "token": token, "form": form},
            edition=registration.edition,
            status=status,
            private_page=True,
        )


@private
class RegistrationEraseView(View):
    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        return self.show(request, token, registration, ConfirmActionForm())

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        form = ConfirmActionForm(request.POST)
        if not form.is_valid():
            return self.show(request, token, registration, form, status=400)
        edition = registration.edition
        services.erase(registration=registration)
        return page(request, "registration/erased.html", {}, edition=edition)

    def show(
        self,
        request: HttpRequest,
        token: str,
        registration: Registration,
        form: ConfirmActionForm,
        status: int = 200,
    ) -> HttpResponse:
        return page(
            request,
            "registration/erase.html",
            {"registration": registration, "token": token, "form": form},
            edition=registration.edition,
            status=status,
            private_page=True,
        )


@private
class RegistrationExportView(View):
    """Everything we hold about the person, as a JSON download."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        data = services.export_personal_data(registration=registration)
        response = HttpResponse(
            json.dumps(data, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        filename = f"registration-{registration.edition.year}.json"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response


@private
class TicketDetailView(View):
    """The ticket: QR code as inline SVG, name as chosen, category, gate and entry window."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        ticket = selectors.get_ticket(registration=registration)
        usable = bool(ticket and not ticket.is_revoked and registration.is_active)
        context: dict[str, Any] = {"registration": registration, "ticket": ticket, "token": token}
        if ticket and usable:
            context["qr"] = qr_svg(ticket_code(ticket), label=_("Ticket QR code"))
        return page(
            request,
            "registration/ticket.html",
            context,
            edition=registration.edition,
            private_page=True,
        )


@private
class TicketPdfView(View):
    """The ticket as a PDF to print or keep, re-downloadable from the private link."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        ticket = selectors.get_ticket(registration=registration)
        if not (ticket and not ticket.is_revoked and registration.is_active):
            raise Http404(_("This registration has no valid ticket."))
        response = HttpResponse(ticket_pdf(ticket), content_type="application/pdf")
        filename = f"ticket-{registration.edition.year}.pdf"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response


# --- delegations -----------------------------------------------------------------------------


def _delegation_category_or_404(edition: Edition) -> Category:
    try:
        return selectors.get_delegation_category(edition=edition)
    except Category.DoesNotExist:
        raise Http404(_("This gathering takes no delegations.")) from None


@private
class DelegationCreateView(View):
    """A leader registers and creates a delegation in one form."""

    template = "registration/delegation_create.html"

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        category = _delegation_category_or_404(edition)
        form = DelegationRegistrationForm(category=category)
        return self.show(request, edition, category, form)

    def post(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        category = _delegation_category_or_404(edition)
        form = DelegationRegistrationForm(request.POST, category=category)
        if not form.is_valid():
            return self.show(request, edition, category, form, status=400)
        data = form.cleaned_data
        try:
            services.register_delegation(
                category=category,
                name=data["name"],
                email=data["email"],
                language=data["language"],
                country=data["country"],
                phone=data["phone"],
                answers=form.answers(),
                consent=data["consent"],
                city=data["city"],
                departure_country=data["departure_country"],
                transport=data["transport"],
                expected_size=data["expected_size"],
            )
        except RegistrationError as error:
            form.add_error(None, str(error.message))
            return self.show(request, edition, category, form, status=409)
        return HttpResponseRedirect(reverse("registration:registration-sent", args=[year]))

    def show(
        self,
        request: HttpRequest,
        edition: Edition,
        category: Category,
        form: DelegationRegistrationForm,
        status: int = 200,
    ) -> HttpResponse:
        return page(
            request,
            self.template,
            {"nav": "register", "category": category, "form": form, "is_open": category.is_open()},
            edition=edition,
            status=status,
        )


@private
class DelegationJoinView(View):
    """The invitation link: a member registers into the delegation with their own consent."""

    def get(self, request: HttpRequest, year: int, token: str) -> HttpResponse:
        edition, delegation = self.load(year, token)
        form = RegistrationForm(category=delegation.category)
        return self.show(request, edition, delegation, form)

    def post(self, request: HttpRequest, year: int, token: str) -> HttpResponse:
        edition, delegation = self.load(year, token)
        form = RegistrationForm(request.POST, category=delegation.category)
        if not form.is_valid():
            return self.show(request, edition, delegation, form, status=400)
        try:
            services.register(
                category=delegation.category,
                name=form.cleaned_data["name"],
                email=form.cleaned_data["email"],
                language=form.cleaned_data["language"],
                country=form.cleaned_data["country"],
                phone=form.cleaned_data["phone"],
                answers=form.answers(),
                consent=form.cleaned_data["consent"],
                delegation=delegation,
            )
        except RegistrationError as error:
            form.add_error(None, str(error.message))
            return self.show(request, edition, delegation, form, status=409)
        return HttpResponseRedirect(reverse("registration:registration-sent", args=[year]))

    def load(self, year: int, token: str) -> tuple[Edition, Delegation]:
        edition = get_edition_or_404(year)
        try:
            delegation = selectors.get_delegation_by_invitation(token=token)
        except Delegation.DoesNotExist:
            raise Http404(
                _("This invitation link is not valid. Ask your delegation's leader for a new one.")
            ) from None
        if delegation.edition_id != edition.pk:
            raise Http404(_("This invitation link is not valid."))
        return edition, delegation

    def show(
        self,
        request: HttpRequest,
        edition: Edition,
        delegation: Delegation,
        form: RegistrationForm,
        status: int = 200,
    ) -> HttpResponse:
        return page(
            request,
            "registration/delegation_join.html",
            {"delegation": delegation, "form": form, "is_open": delegation.is_open()},
            edition=edition,
            status=status,
            private_page=True,
        )


@private
class DelegationManageView(View):
    """The leader's page, reached from their private link: start a delegation, see members,
    add or remove them until the deadline, make a new invitation link."""

    def get(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        delegation = selectors.get_led_delegation(registration=registration)
        return self.show(request, token, registration, delegation)

    def post(self, request: HttpRequest, token: str) -> HttpResponse:
        registration = get_registration_or_404(token)
        delegation = selectors.get_led_delegation(registration=registration)
        action = request.POST.get("action", "")
        forms: dict[str, Any] = {}
        invitation_token = ""  # nosec B105 # empty until read from the request
        try:
            if delegation is None:
                form = DelegationForm(request.POST)
                forms["delegation_form"] = form
                if form.is_valid():
                    outcome = services.create_delegation(
                        leader=registration,
                        city=form.cleaned_data["city"],
                        country=form.cleaned_data["departure_country"],
                        transport=form.cleaned_data["transport"],
                        expected_size=form.cleaned_data["expected_size"],
                    )
                    delegation = outcome.delegation
                    invitation_token = outcome.invitation_token
                    forms = {}
            elif action == "add":
                add_form = MemberAddForm(request.POST)
                forms["add_form"] = add_form
                if add_form.is_valid():
                    services.add_member(
                        delegation=delegation,
                        name=add_form.cleaned_data["name"],
                        email=add_form.cleaned_data["email"],
                        language=add_form.cleaned_data["language"],
                        country=add_form.cleaned_data["country"],
                    )
                    return HttpResponseRedirect(request.path + "?added=1")
            elif action == "remove":
                member = self.member(delegation, request.POST.get("member", ""))
                services.remove_member(delegation=delegation, member=member)
                return HttpResponseRedirect(request.path + "?removed=1")
            elif action == "renew":
                invitation_token = services.renew_invitation(delegation=delegation)
            else:
                return self.show(
                    request,
                    token,
                    registration,
                    delegation,
                    status=400,
                    error=_("Unknown action."),
                )
        except RegistrationError as error:
            return self.show(
                request,
                token,
                registration,
                delegation,
                status=409,
                error=str(error.message),
                **forms,
            )
        status = 400 if any(form.errors for form in forms.values()) else 200
        return self.show(
            request,
            token,
            registration,
            delegation,
            status=status,
            invitation_token=invitation_token,
            **forms,
        )

    def member(self, delegation: Delegation, raw: str) -> Registration:
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 18):
            raise Http404(_("There is no such member."))
        try:
            return selectors.list_delegation_members(delegation=delegation).get(pk=int(raw))
        except Registration.DoesNotExist:
            raise Http404(_("There is no such member.")) from None

    def show(
        self,
        request: HttpRequest,
        token: str,
        registration: Registration,
        delegation: Delegation | None,
        *,
        status: int = 200,
        error: str = "",
        invitation_token: str = "",
        **forms: Any,
    ) -> HttpResponse:
        context: dict[str, Any] = {
            "registration": registration,
            "token": token,
            "delegation": delegation,
            "error": error,
            "added": request.GET.get("added") == "1",
            "removed": request.GET.get("removed") == "1",
        }
        if delegation is None:
            context["delegation_form"] = forms.get("delegation_form") or DelegationForm()
            context["can_lead"] = registration.is_active and registration.delegation_id is None
        else:
            context["members"] = list(selectors.list_delegation_members(delegation=delegation))
            context["add_form"] = forms.get("add_form") or MemberAddForm()
            context["is_open"] = delegation.is_open()
            if invitation_token:
                context["invitation_url"] = request.build_absolute_uri(
                    reverse(
                        "registration:delegation-join",
                        kwargs={"year": delegation.edition.year, "token": invitation_token},
                    )
                )
        return page(
            request,
            "registration/delegation_manage.html",
            context,
            edition=registration.edition,
            status=status,
            private_page=True,
        )
