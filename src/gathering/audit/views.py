"""The trail's page for organisers (``audit.view_auditevent``): filters, pages, CSV export.

The export is itself an event (``audit.export``); so is nothing else here: viewing the trail
shows usernames and addresses of staff, which organisers may see, and recording each view of
it would bury the trail under itself."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.audit import selectors, services
from gathering.audit.forms import AuditFilterForm
from gathering.audit.models import AuditEvent
from gathering.core.views import render_error

VIEW = "audit.view_auditevent"
PAGE_SIZE = 50
EXPORT_LIMIT = 100_000
CSV_COLUMNS = (
    "at",
    "actor_username",
    "action",
    "object_type",
    "object_id",
    "summary",
    "ip",
    "user_agent",
)
# A spreadsheet runs a cell that starts with one of these as a formula.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


class _Echo:
    def write(self, value: str) -> str:
        return value


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA) else text


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
    """The filtered trail as CSV (at most ``EXPORT_LIMIT`` rows, newest first)."""

    def get(self, request: HttpRequest) -> HttpResponse | StreamingHttpResponse:
        form = self.form_or_error(request)
        if isinstance(form, HttpResponse):
            return form
        filters = form.filters()
        services.record(
            request,
            action="audit.export",
            object_type="audit.auditevent",
            # Filter names only: a username filter is a person's name.
            summary="filters=" + ",".join(sorted(filters)),
        )
        events = selectors.list_events(**filters)[:EXPORT_LIMIT]
        writer = csv.writer(_Echo())

        def rows() -> Iterator[str]:
            yield writer.writerow(CSV_COLUMNS)
            for event in events.iterator(chunk_size=2000):
                yield writer.writerow(
                    [
                        event.at.isoformat(),
                        *(_cell(getattr(event, column)) for column in CSV_COLUMNS[1:]),
                    ]
                )

        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return StreamingHttpResponse(
            rows(),
            content_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'},
        )
