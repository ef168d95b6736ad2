"""The live page, the big-screen wall, the polling fallback and the staff announcements page.

Pages render the current figures on the server, so they work (with a refresh) without
JavaScript; ``live.js`` then follows the event stream of the live server, or polls
``state.json`` here when the stream is blocked.
"""

from __future__ import annotations

import json
import time
from typing import Any, cast

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.audit.services import record as audit
from gathering.core.cache import cached_page
from gathering.core.local_cache import LocalCache
from gathering.core.views import render_error
from gathering.live import selectors, services
from gathering.live.errors import AnnouncementError
from gathering.live.forms import AnnouncementForm
from gathering.live.models import Announcement
from gathering.program.models import Edition
from gathering.program.views import get_edition_or_404

POST_ANNOUNCEMENT = "live.add_announcement"
# The polling fallback: every viewer whose network blocks the stream asks every few seconds.
_states: LocalCache[bytes] = LocalCache(seconds=1)
cached_briefly = method_decorator(cast(Any, cached_page("live", seconds=5)), name="dispatch")


def events_url(request: HttpRequest, year: int) -> str:
    """Where pages open the event stream: behind a proxy at LIVE_PUBLIC_URL, else on LIVE_PORT
    of the host the page came from."""
    path = f"/live/{year}/events"
    public = settings.LIVE_PUBLIC_URL.rstrip("/")
    if public or settings.LIVE_PUBLIC_URL == "/":
        return f"{public}{path}"
    host = request.get_host()
    # "[::1]:8000" or "example.org:8000": keep the name, change the port.
    if host.startswith("[") and "]" in host:
        name = host[: host.index("]") + 1]
    else:
        name = host.split(":", 1)[0]
    return f"{request.scheme}://{name}:{settings.LIVE_PORT}{path}"


def _snapshot_or_404(edition: Edition) -> dict[str, Any]:
    snapshot = selectors.snapshot(year=edition.year)
    if snapshot is None:
        raise Http404(_("There is no edition of this year."))
    return snapshot


def _channels(edition: Edition) -> list[Any]:
    from gathering.satellites.models import StreamChannel

    return list(StreamChannel.objects.filter(edition=edition).order_by("-is_main", "position"))


def _live_context(request: HttpRequest, edition: Edition) -> dict[str, Any]:
    snapshot = _snapshot_or_404(edition)
    language = get_language() or settings.LANGUAGE_CODE
    return {
        "edition": edition,
        "snapshot": snapshot,
        "stage": snapshot["stage"].get(language, {"now": [], "next": []}),
        "announcements": snapshot["announcements"].get(language, []),
        "wall_messages": snapshot["messages"].get(language, []),
        "events_url": events_url(request, edition.year),
        "state_url": reverse("live:state", args=[edition.year]),
        "live_language": language,
    }


@cached_briefly
class LiveView(View):
    """What is on stage, the counters, announcements and the streams of one edition."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        context = _live_context(request, edition)
        context.update({"nav": "live", "channels": _channels(edition)})
        with timezone.override(edition.tzinfo):
            return render(request, "live/live.html", context)


@cached_briefly
class WallView(View):
    """The big screen: counters, the map of sites and messages, in the URL's language."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        from gathering.core.worldmap import render_world_map
        from gathering.satellites.selectors import live_figures

        edition = get_edition_or_404(year)
        context = _live_context(request, edition)
        sites = live_figures(edition=edition)
        context["world_map"] = render_world_map(
            counts=sites.by_country,
            markers=sites.by_country,
            label=_("Satellite sites by country"),
        )
        context["site_countries"] = len(sites.countries)
        with timezone.override(edition.tzinfo):
            return render(request, "live/wall.html", context)


class StateView(View):
    """The live figures as JSON, for viewers whose network blocks the event stream."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        def load() -> bytes:
            snapshot = selectors.snapshot(year=year)
            if snapshot is None:
                return b""
            return json.dumps(
                {"id": int(time.time() * 1000), "topics": snapshot},
                ensure_ascii=False,
                separators=(",", ":"),
            ).encode()

        body = _states.get_or_set(year, load)
        if not body:
            return JsonResponse({"error": _("There is no edition of this year.")}, status=404)
        response = HttpResponse(body, content_type="application/json")
        response["Cache-Control"] = "public, max-age=1"
        return response


class AnnouncementsView(View):
    """Staff post announcements and withdraw them (organisers and program editors)."""

    @method_decorator(login_required)
    @method_decorator(never_cache)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        if not request.user.has_perm(POST_ANNOUNCEMENT):
            return render_error(
                request,
                403,
                _("Not allowed"),
                _("Only organisers and program editors can post announcements."),
            )
        return super().dispatch(request, *args, **kwargs)

    def _page(
        self, request: HttpRequest, edition: Edition, form: AnnouncementForm, status: int = 200
    ) -> HttpResponse:
        shown = Announcement.objects.filter(edition=edition).order_by("-published_at", "-pk")[:50]
        with timezone.override(edition.tzinfo):
            response = render(
                request,
                "live/announcements.html",
                {
                    "edition": edition,
                    "form": form,
                    "announcements": shown,
                    "nav": "live",
                    "private_page": True,
                },
                status=status,
            )
        response["X-Robots-Tag"] = "noindex, nofollow"
        return response

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        return self._page(request, edition, AnnouncementForm())

    def post(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        if "withdraw" in request.POST:
            return self._withdraw(request, edition, request.POST["withdraw"])
        form = AnnouncementForm(request.POST)
        if not form.is_valid():
            return self._page(request, edition, form, status=400)
        try:
            announcement = services.post_announcement(
                edition=edition,
                text=form.cleaned_data["text"],
                level=form.cleaned_data["level"],
                by=request.user,
            )
        except AnnouncementError as error:
            form.add_error("text", str(error.message))
            return self._page(request, edition, form, status=400)
        audit(request, action="announcement.post", obj=announcement)
        messages.success(request, _("Announcement posted."))
        return HttpResponseRedirect(reverse("live:announcements", args=[year]))

    def _withdraw(self, request: HttpRequest, edition: Edition, raw: str) -> HttpResponse:
        if not raw.isdigit() or len(raw) > 18:
            return render_error(request, 400, _("Bad request"), _("Unknown announcement."))
        announcement = Announcement.objects.filter(edition=edition, pk=int(raw)).first()
        if announcement is None:
            return render_error(request, 404, _("Not found"), _("Unknown announcement."))
        services.withdraw_announcement(announcement=announcement, by=request.user)
        audit(request, action="announcement.withdraw", obj=announcement)
        messages.success(request, _("Announcement withdrawn."))
        return HttpResponseRedirect(reverse("live:announcements", args=[edition.year]))
