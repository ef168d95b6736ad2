"""The public program pages: home, archive, an edition, its program, its sessions and speakers.

Every page is a GET that anonymous visitors get from the page cache (``cached_page("program")``);
any program write bumps the cache version (``program/receivers.py``). Texts missing in the
visitor's language fall back to the edition's default language. Times show in the edition's
time zone, whatever the server's.
"""

from __future__ import annotations

from typing import Any, cast

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.decorators import method_decorator
from django.utils.timezone import now
from django.utils.translation import gettext as _
from django.views import View

from gathering.core.cache import cached_page
from gathering.core.translated import set_fallback_language
from gathering.program import selectors
from gathering.program.forms import SessionFilterForm
from gathering.program.models import Edition, Session, Speaker

# cached_page is typed for HttpResponse views; method_decorator's stubs want HttpResponseBase.
cached = method_decorator(cast(Any, cached_page("program")), name="dispatch")
# Edition pages show a countdown and what is on stage now: they follow the clock too.
cached_briefly = method_decorator(cast(Any, cached_page("program", seconds=30)), name="dispatch")


def get_edition_or_404(year: int) -> Edition:
    """The edition of ``year`` (raises :class:`Http404`); its language becomes the fallback."""
    try:
        edition = selectors.get_edition(year=year)
    except Edition.DoesNotExist:
        raise Http404(_("There is no edition of this year.")) from None
    set_fallback_language(edition.default_language)
    return edition


def render_for_edition(
    request: HttpRequest, template: str, context: dict[str, Any], *, edition: Edition
) -> HttpResponse:
    """Render now (not lazily) so that every time shows in the edition's time zone."""
    with timezone.override(edition.tzinfo):
        return render(request, template, {"edition": edition, **context})


def edition_overview(edition: Edition) -> dict[str, Any]:
    """What the edition page shows beside the edition: a countdown, or what is on now."""
    context: dict[str, Any] = {
        "is_live": selectors.is_live_now(edition),
        "days_to_go": None,
        "on_now": [],
        "next_up": [],
    }
    if context["is_live"]:
        moment = now()
        context["on_now"] = list(selectors.list_sessions_on_now(edition=edition, at=moment))
        context["next_up"] = selectors.list_next_sessions(edition=edition, at=moment)
    elif edition.status == Edition.Status.PLANNED:
        days = selectors.count_days_to_start(edition=edition)
        context["days_to_go"] = days if days > 0 else None
    return context


@cached_briefly
class HomeView(View):
    """The current edition (live, else next, else latest); a friendly page before the first."""

    def get(self, request: HttpRequest) -> HttpResponse:
        edition = selectors.get_current_edition()
        if edition is None:
            return render(request, "program/home_empty.html", {"nav": "home"})
        set_fallback_language(edition.default_language)
        return render_for_edition(
            request,
            "program/edition_detail.html",
            {"nav": "home", "is_home": True, **edition_overview(edition)},
            edition=edition,
        )


@cached_briefly
class EditionDetailView(View):
    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        return render_for_edition(
            request,
            "program/edition_detail.html",
            {"nav": "edition", "is_home": False, **edition_overview(edition)},
            edition=edition,
        )


@cached
class ArchiveView(View):
    def get(self, request: HttpRequest) -> HttpResponse:
        return render(
            request,
            "program/archive.html",
            {"nav": "archive", "editions": list(selectors.list_past_editions())},
        )


@cached
class SessionListView(View):
    """The program by day, filtered by the query string (400 on a value it cannot use)."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        form = SessionFilterForm(request.GET, edition=edition)
        filters = form.validated_filters()
        days = selectors.list_program_days(edition=edition, filters=filters)
        return render_for_edition(
            request,
            "program/session_list.html",
            {
                "nav": "program",
                "form": form,
                "days": days,
                "session_count": sum(len(day.sessions) for day in days),
            },
            edition=edition,
        )


@cached
class SessionDetailView(View):
    def get(self, request: HttpRequest, year: int, pk: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        try:
            session = selectors.get_session(edition=edition, pk=pk)
        except Session.DoesNotExist:
            raise Http404(_("There is no such session in this edition.")) from None
        return render_for_edition(
            request,
            "program/session_detail.html",
            {"nav": "program", "session": session},
            edition=edition,
        )


@cached
class SpeakerListView(View):
    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        edition = get_edition_or_404(year)
        return render_for_edition(
            request,
            "program/speaker_list.html",
            {"nav": "speakers", "speakers": list(selectors.list_public_speakers(edition=edition))},
            edition=edition,
        )


@cached
class SpeakerDetailView(View):
    """A public speaker and their sessions in every edition (each in its own time zone)."""

    def get(self, request: HttpRequest, slug: str) -> HttpResponse:
        try:
            speaker = selectors.get_public_speaker(slug=slug)
        except Speaker.DoesNotExist:
            raise Http404(_("There is no such speaker.")) from None
        sessions = list(selectors.list_speaker_sessions(speaker=speaker))
        latest = sessions[0].edition if sessions else selectors.get_current_edition()
        if latest is not None:
            set_fallback_language(latest.default_language)
        return render(
            request,
            "program/speaker_detail.html",
            {"nav": "speakers", "speaker": speaker, "sessions": sessions, "edition": latest},
        )
