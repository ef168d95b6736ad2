"""The trail's page for organisers (``audit.view_auditevent``): filters, pages, and the way to
its CSV export (an export request, ``audit/exports.py``).

Viewing the trail is not itself recorded: it shows usernames and addresses of staff, which
organisers may see, and recording each view of it would bury the trail under itself."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.shortcuts import render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.audit import selectors
from gathering.audit.forms import AuditFilterForm
from gathering.audit.models import AuditEvent
from gathering.core.views import render_error

VIEW = "audit.view_auditevent"
PAGE_SIZE = 50


@method_decorator(login_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class AuditStaffView(View):
    """Signed-in organisers; other staff get a 403."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.has_perm(VIEW):
            return render_error(
                request, 403, _("Not allowed"), _("Only organisers can read the audit trail.")
            )
        return super().dispatch(request, *args, **kwargs)

    def form_or_error(self, request: HttpRequest) -> AuditFilterForm | HttpResponse:
        form = AuditFilterForm(request.GET)
        if form.is_valid():
            return form
        return self.page(request, form, [], number=1, has_next=False, status=400)

    def page(
        self,
        request: HttpRequest,
        form: AuditFilterForm,
        events: list[AuditEvent],
        *,
        number: int,
        has_next: bool,
        status: int = 200,
    ) -> HttpResponse:
        query = request.GET.copy()
        query.pop("page", None)
        response = render(
            request,
            "audit/event_list.html",
            {
                "form": form,
                "events": events,
                "page_number": number,
                "previous_page": number - 1 if number > 1 else None,
                "next_page": number + 1 if has_next else None,
                "query": query.urlencode(),
                "private_page": True,
            },
            status=status,
        )
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response


class AuditEventListView(AuditStaffView):
    def get(self, request: HttpRequest) -> HttpResponse:
        form = self.form_or_error(request)
        if isinstance(form, HttpResponse):
            return form
        number = form.cleaned_data.get("page") or 1
        offset = (number - 1) * PAGE_SIZE
        # One row more than a page tells whether there is a next page, without a COUNT.
        rows = list(selectors.list_events(**form.filters())[offset : offset + PAGE_SIZE + 1])
        return self.page(
            request, form, rows[:PAGE_SIZE], number=number, has_next=len(rows) > PAGE_SIZE
        )


class AuditEventExportView(AuditStaffView):
    """The filtered trail as CSV: a bulk export of staff's personal data (usernames,
    addresses), so it is asked for on the export requests' page and approved by another
    organiser first (``audit/exports.py``). This address sends there, filters kept."""

    def get(self, request: HttpRequest) -> HttpResponse:
        form = self.form_or_error(request)
        if isinstance(form, HttpResponse):
            return form
        query = QueryDict(mutable=True)
        query["kind"] = "audit.events"
        for key, value in form.filters().items():
            query[key] = value.isoformat() if isinstance(value, dt.date) else str(value)
        return HttpResponseRedirect(reverse("audit:export-new") + "?" + query.urlencode())
