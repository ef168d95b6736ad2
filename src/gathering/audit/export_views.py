"""Staff pages of export requests (``exports`` says why and how): ask, decide, download.

- ``staff/exports/``: the requests of the one signed in and, for organisers, those waiting for
  their decision and the latest decided ones.
- ``staff/exports/new/``: GET shows what would be exported (from the query string) with a field
  for the reason; POST records the request.
- ``staff/exports/<id>/``: one request; POST ``decision`` = approve, refuse (organisers other
  than the one who asked) or withdraw (the one who asked, while it waits).
- ``staff/exports/<id>/download/``: POST only (a download is counted: a prefetching browser or
  a link preview must not spend one); the one who asked, once approved, within the window.

Staff without any export or approval right get a 403. A request that is not theirs to see (or
does not exist) is a 404 for everyone, so ids reveal nothing. Bad input gets a 400 page with
the reason in the user's language; nothing is written then.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.audit import exports, services
from gathering.audit.errors import ExportRequestError
from gathering.audit.exports import ExportParamsError
from gathering.audit.models import ExportRequest
from gathering.core.views import render_error

logger = logging.getLogger(__name__)

LIST_LIMIT = 50


class ReasonForm(forms.Form):
    reason = forms.CharField(
        label=gettext_lazy("Why is this export needed?"),
        min_length=10,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        error_messages={
            "required": gettext_lazy("Say why this export is needed."),
            "min_length": gettext_lazy("Say in a sentence why this export is needed."),
        },
    )

    def clean_reason(self) -> str:
        text = str(self.cleaned_data["reason"])
        if "\x00" in text:
            raise forms.ValidationError(gettext_lazy("This text holds characters not allowed."))
        return text.strip()


class DecisionForm(forms.Form):
    decision = forms.ChoiceField(
        choices=[("approve", "approve"), ("refuse", "refuse"), ("withdraw", "withdraw")],
        error_messages={
            "required": gettext_lazy("Choose approve or refuse."),
            "invalid_choice": gettext_lazy("Choose approve or refuse."),
        },
    )
    note = forms.CharField(max_length=500, required=False)

    def clean_note(self) -> str:
        text = str(self.cleaned_data.get("note") or "")
        if "\x00" in text:
            raise forms.ValidationError(gettext_lazy("This text holds characters not allowed."))
        return text.strip()


def _page(
    request: HttpRequest, template: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    response = render(request, template, {"private_page": True, **context}, status=status)
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response


def _error(request: HttpRequest, status: int, message: str) -> HttpResponse:
    titles = {400: _("Bad request"), 403: _("Not allowed"), 410: _("No longer available")}
    return render_error(request, status, titles.get(status, _("Not possible")), message)


def may_use_exports(user: Any) -> bool:
    return bool(user.has_perm(services.APPROVE) or exports.kinds_for(user))


@method_decorator(login_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class ExportStaffView(View):
    """Signed-in staff who may ask for an export or approve one; the others get a 403."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not may_use_exports(request.user):
            return _error(
                request, 403, _("Only organisers (and press officers) can ask for exports.")
            )
        return super().dispatch(request, *args, **kwargs)

    def export_or_404(self, request: HttpRequest, pk: int) -> ExportRequest:
        """A request its asker or an approver may see; any other id is a 404."""
        export = (
            ExportRequest.objects.select_related("requested_by", "decided_by").filter(pk=pk).first()
        )
        user = request.user
        if export is None or not (
            export.requested_by_id == user.pk or user.has_perm(services.APPROVE)
        ):
            raise Http404(_("There is no such export request."))
        return export


class ExportRequestListView(ExportStaffView):
    def get(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        approver = user.has_perm(services.APPROVE)
        requests = ExportRequest.objects.select_related("requested_by", "decided_by")
        user_id = user.pk
        context: dict[str, Any] = {
            "mine": list(requests.filter(requested_by_id=user_id)[:LIST_LIMIT]),
            "approver": approver,
            "max_downloads": exports.MAX_DOWNLOADS,
            "window_hours": int(exports.DOWNLOAD_WINDOW.total_seconds() // 3600),
        }
        if approver:
            context["waiting"] = list(
                requests.filter(status=ExportRequest.Status.PENDING).exclude(
                    requested_by_id=user_id
                )[:LIST_LIMIT]
            )
            context["decided"] = list(
                requests.exclude(status=ExportRequest.Status.PENDING).exclude(
                    requested_by_id=user_id
                )[:LIST_LIMIT]
            )
        return _page(request, "audit/export_list.html", context)


def request_form(
    request: HttpRequest, data: Any, form: ReasonForm | None = None, *, status: int = 200
) -> HttpResponse:
    """The page that asks for the ``data["kind"]`` export of ``data`` (a query or a posted
    form): what would be exported, checked as the request will be, and the reason's field.
    Bad parameters, or a kind the role does not allow, give their error page instead. The
    back office's badge actions show it too."""
    try:
        kind = exports.get_kind(str(data.get("kind", "")))
        params, description = kind.clean(request.user, data)
    except ExportParamsError as error:
        return _error(request, 400, error.message)
    if not kind.allowed(request.user, params):
        return _error(request, 403, _("Your role does not allow this export."))
    return _page(
        request,
        "audit/export_new.html",
        {
            "kind": kind,
            "description": description,
            "hidden": [("kind", kind.code), *kind.fields(params)],
            "form": form or ReasonForm(),
            "max_downloads": exports.MAX_DOWNLOADS,
            "window_hours": int(exports.DOWNLOAD_WINDOW.total_seconds() // 3600),
        },
        status=status,
    )


class ExportRequestCreateView(ExportStaffView):
    def get(self, request: HttpRequest) -> HttpResponse:
        return request_form(request, request.GET)

    def post(self, request: HttpRequest) -> HttpResponse:
        form = ReasonForm(request.POST)
        if not form.is_valid():
            return request_form(request, request.POST, form, status=400)
        try:
            export = services.request_export(
                request,
                user=request.user,
                kind=str(request.POST.get("kind", "")),
                data=request.POST,
                reason=form.cleaned_data["reason"],
            )
        except ExportParamsError as error:
            return _error(request, 400, error.message)
        except ExportRequestError as error:
            return _error(request, error.status, str(error.message))
        messages.success(
            request,
            _(
                "Your request is recorded. Another organiser must approve it before you can "
                "download the export."
            ),
        )
        return HttpResponseRedirect(reverse("audit:export-detail", args=[export.pk]))


class ExportRequestDetailView(ExportStaffView):
    template = "audit/export_detail.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.show(request, self.export_or_404(request, pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        export = self.export_or_404(request, pk)
        form = DecisionForm(request.POST)
        if not form.is_valid():
            return self.show(request, export, error=_("Choose approve or refuse."), status=400)
        decision = form.cleaned_data["decision"]
        try:
            if decision == "withdraw":
                if export.requested_by_id != request.user.pk:
                    raise Http404(_("There is no such export request."))
                services.withdraw_export(request, export=export, user=request.user)
                messages.success(request, _("Your request is withdrawn."))
            else:
                services.decide_export(
                    request,
                    export=export,
                    user=request.user,
                    approve=decision == "approve",
                    note=form.cleaned_data["note"],
                )
                messages.success(
                    request,
                    _("The export is approved: the one who asked can download it now.")
                    if decision == "approve"
                    else _("The export is refused."),
                )
        except ExportRequestError as error:
            return self.show(request, export, error=str(error.message), status=error.status)
        return HttpResponseRedirect(reverse("audit:export-detail", args=[export.pk]))

    def show(
        self, request: HttpRequest, export: ExportRequest, *, error: str = "", status: int = 200
    ) -> HttpResponse:
        user = request.user
        mine = export.requested_by_id == user.pk
        pending = export.status == ExportRequest.Status.PENDING
        kind = exports.KINDS.get(export.kind)
        return _page(
            request,
            self.template,
            {
                "export": export,
                "kind_label": kind.label if kind else export.kind,
                "error": error,
                "can_decide": pending and not mine and user.has_perm(services.APPROVE),
                "can_withdraw": pending and mine,
                "can_download": mine
                and export.status == ExportRequest.Status.APPROVED
                and export.download_count < exports.MAX_DOWNLOADS,
                "max_downloads": exports.MAX_DOWNLOADS,
            },
            status=status,
        )


class ExportDownloadView(ExportStaffView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponse | StreamingHttpResponse:
        export = self.export_or_404(request, pk)
        if export.requested_by_id != request.user.pk:
            # Approvers see the request, but only the one who asked gets the file.
            raise Http404(_("There is no such export request."))
        language = (get_language() or "en").split("-")[0]
        try:
            file = services.download_export(
                request, export=export, user=request.user, language=language
            )
        except ExportParamsError as error:
            return _error(request, 409, error.message)
        except ExportRequestError as error:
            return _error(request, error.status, str(error.message))
        headers = {"Content-Disposition": f'attachment; filename="{file.filename}"'}
        if isinstance(file.content, bytes):
            return HttpResponse(file.content, content_type=file.content_type, headers=headers)
        return StreamingHttpResponse(file.content, content_type=file.content_type, headers=headers)
