"""The privacy notice and the legal notice (public, in every language), and the organisers' page
of data-subject requests (``privacy.handle_datasubjectrequest``).

The staff page never puts an address in a URL: the look-up, the export and the erasure are
posts, and the address travels in the form (the page that shows what was found carries it in
its own hidden fields, for the export and erasure buttons).
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.core.views import render_error
from gathering.privacy import selectors
from gathering.privacy.errors import InvalidEmailError, InvalidReferenceError
from gathering.privacy.forms import PersonEraseForm, PersonRequestForm
from gathering.privacy.selectors import PersonRecords
from gathering.privacy.services import requests as request_services

HANDLE = "privacy.handle_datasubjectrequest"


class PrivacyNoticeView(View):
    """What is done with personal data, written from the organisation's settings, the
    editions' retention periods and the consent texts in use."""

    def get(self, request: HttpRequest) -> HttpResponse:
        facts = selectors.get_notice_facts(language=get_language())
        return render(request, "privacy/notice.html", {"facts": facts, "nav": "privacy"})


class LegalNoticeView(View):
    """Who publishes the site and who hosts it (French LCEN art. 6), from the settings."""

    def get(self, request: HttpRequest) -> HttpResponse:
        facts = selectors.get_notice_facts(language=get_language())
        return render(request, "privacy/legal.html", {"facts": facts, "nav": "legal"})


# --- data-subject requests (staff) -----------------------------------------------------------


@method_decorator(login_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class RequestStaffView(View):
    """Signed-in staff with the permission (organisers); others get a 403."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not request.user.has_perm(HANDLE):
            return render_error(
                request,
                403,
                _("Not allowed"),
                _("Only organisers can handle requests about personal data."),
            )
        return super().dispatch(request, *args, **kwargs)

    def page(
        self,
        request: HttpRequest,
        form: PersonRequestForm,
        *,
        status: int = 200,
        records: PersonRecords | None = None,
        erased: dict[str, int] | None = None,
        earlier: int = 0,
    ) -> HttpResponse:
        erasing = isinstance(form, PersonEraseForm)
        context: dict[str, Any] = {
            "form": form,
            "action": reverse("privacy:request-erase" if erasing else "privacy:request-search"),
            "erasing": erasing,
            "records": records,
            "rows": selectors.describe(records) if records is not None else [],
            "counts": records.counts() if records is not None else {},
            "erased": erased,
            "earlier": earlier,
            "recent": selectors.list_recent_requests(),
            "private_page": True,
        }
        if records is not None and erased is None:
            # The same fields again, hidden, for the export and erase buttons.
            context["person"] = {
                "email": records.email,
                "edition": records.edition.year if records.edition else "",
                "reference": form.cleaned_data.get("reference", ""),
            }
            context["sure_label"] = PersonEraseForm.base_fields["sure"].label
        response = render(request, "privacy/requests.html", context, status=status)
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    def refused(
        self, request: HttpRequest, form: PersonRequestForm, error: Exception
    ) -> HttpResponse:
        field = "reference" if isinstance(error, InvalidReferenceError) else "email"
        form.add_error(field, str(getattr(error, "message", error)))
        return self.page(request, form, status=400)


class RequestSearchView(RequestStaffView):
    """The form, the latest requests, and (after a post) what exists about the person."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, PersonRequestForm())

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PersonRequestForm(request.POST)
        if not form.is_valid():
            return self.page(request, form, status=400)
        data = form.cleaned_data
        try:
            earlier = request_services.count_earlier_requests(email=data["email"])
            _entry, records = request_services.look_up(
                email=data["email"],
                edition=form.get_edition(),
                reference=data["reference"],
                by=request.user,
                request=request,
            )
        except (InvalidEmailError, InvalidReferenceError) as error:
            return self.refused(request, form, error)
        return self.page(request, form, records=records, earlier=earlier)


class RequestExportView(RequestStaffView):
    """Everything stored about the person, as a JSON download (a post: the address is never
    in a URL)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponseRedirect(reverse("privacy:request-search"))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PersonRequestForm(request.POST)
        if not form.is_valid():
            return self.page(request, form, status=400)
        data = form.cleaned_data
        try:
            entry, export = request_services.export_person(
                email=data["email"],
                edition=form.get_edition(),
                reference=data["reference"],
                by=request.user,
                request=request,
            )
        except (InvalidEmailError, InvalidReferenceError) as error:
            return self.refused(request, form, error)
        response = HttpResponse(
            json.dumps(export, ensure_ascii=False, indent=2),
            content_type="application/json; charset=utf-8",
        )
        stamp = timezone.now().strftime("%Y%m%d")
        response["Content-Disposition"] = (
            f'attachment; filename="personal-data-request-{entry.pk}-{stamp}.json"'
        )
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response


class RequestEraseView(RequestStaffView):
    """Erase the person's data (a ticked confirmation is required); the page then says what
    was erased."""

    def get(self, request: HttpRequest) -> HttpResponse:
        return HttpResponseRedirect(reverse("privacy:request-search"))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = PersonEraseForm(request.POST)
        if not form.is_valid():
            return self.page(request, form, status=400)
        data = form.cleaned_data
        try:
            entry, records = request_services.erase_person(
                email=data["email"],
                edition=form.get_edition(),
                reference=data["reference"],
                by=request.user,
                request=request,
            )
        except (InvalidEmailError, InvalidReferenceError) as error:
            return self.refused(request, form, error)
        return self.page(request, PersonRequestForm(), records=records, erased=entry.erased)
