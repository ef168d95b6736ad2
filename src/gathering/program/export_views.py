"""Downloadable exports of the program: iCalendar feeds, frab XML and c3voc JSON.

Each view reads ``?lang=`` (default: the edition's default language), loads through the
selectors, and hands the rest to :mod:`gathering.program.exports`. Responses are cached whole
until the next program edit (``cached_page("program")``): schedule apps poll them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBadRequest
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View

from gathering.core.cache import cached_page, get_version
from gathering.core.selectors import get_organisation
from gathering.core.translated import resolve
from gathering.program import selectors
from gathering.program.exports import c3voc, frab, ical
from gathering.program.exports.common import (
    ExportContext,
    UnknownLanguageError,
    clean_text,
    export_context,
    load_schedule,
    parse_language,
)
from gathering.program.models import Edition, Session, Speaker

ICAL_TYPE = "text/calendar; charset=utf-8"
# (cached_page's types name HttpResponse where method_decorator's stubs want HttpResponseBase.)
cached = method_decorator(cached_page("program"), name="dispatch")  # type: ignore[arg-type]


class _ExportView(View):
    http_method_names = ["get", "head", "options"]
    # Each export's own work, called with the URL's arguments.
    export: Callable[..., HttpResponse]

    def context(self, *, default_language: str) -> ExportContext:
        """Raises :class:`UnknownLanguageError`."""
        request = self.request
        language = parse_language(request.GET.get("lang"), default=default_language)
        return export_context(
            language=language,
            base_url=f"{request.scheme}://{request.get_host()}",
            website=get_organisation().website,
        )

    def edition(self, year: int) -> Edition:
        try:
            return selectors.get_edition(year=year)
        except Edition.DoesNotExist as error:
            raise Http404(_("No edition for this year.")) from error

    def self_url(self, context: ExportContext) -> str:
        """The export's own address, with the language when one was asked for."""
        url = self.request.build_absolute_uri(self.request.path)
        return f"{url}?lang={context.language}" if self.request.GET.get("lang") else url

    def get(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:
        try:
            return self.export(**kwargs)
        except UnknownLanguageError as error:
            return HttpResponseBadRequest(str(error), content_type="text/plain; charset=utf-8")


def _download(content: bytes, *, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'inline; filename="{filename}"'
    # Public, read-only data: let schedule web apps and signage fetch it from their own origin.
    response["Access-Control-Allow-Origin"] = "*"
    return response


@cached
class EditionICalView(_ExportView):
    def export(self, *, year: int) -> HttpResponse:
        edition = self.edition(year)
        context = self.context(default_language=edition.default_language)
        sessions = list(selectors.list_sessions(edition=edition))
        content = ical.render_calendar(
            sessions=sessions,
            name=context.text(edition.title, edition),
            context=context,
            editions=[edition],
        )
        return _download(content, content_type=ICAL_TYPE, filename=f"gathering-{year}.ics")


@cached
class SessionICalView(_ExportView):
    def export(self, *, year: int, pk: int) -> HttpResponse:
        edition = self.edition(year)
        try:
            session = selectors.get_session(edition=edition, pk=pk)
        except Session.DoesNotExist as error:
            raise Http404(_("No such session in this edition.")) from error
        context = self.context(default_language=edition.default_language)
        content = ical.render_calendar(
            sessions=[session],
            name=context.text(session.title, edition),
            context=context,
            editions=[edition],
        )
        return _download(content, content_type=ICAL_TYPE, filename=f"session-{pk}.ics")


@cached
class SpeakerICalView(_ExportView):
    def export(self, *, slug: str) -> HttpResponse:
        try:
            speaker = selectors.get_public_speaker(slug=slug)
        except Speaker.DoesNotExist as error:
            raise Http404(_("No such speaker.")) from error
        sessions = list(selectors.list_speaker_sessions(speaker=speaker))
        editions = list({session.edition_id: session.edition for session in sessions}.values())
        # Texts fall back per session to its own edition's language; the feed's own title
        # uses the latest edition's.
        default = editions[0].default_language if editions else settings.LANGUAGE_CODE
        context = self.context(default_language=default)
        name = clean_text(resolve(speaker.name, context.language, fallback=default))
        content = ical.render_calendar(
            sessions=sessions,
            name=name or speaker.slug,
            context=context,
            editions=editions,
        )
        return _download(content, content_type=ICAL_TYPE, filename=f"{speaker.slug}.ics")


@cached
class FrabXmlView(_ExportView):
    def export(self, *, year: int) -> HttpResponse:
        edition = self.edition(year)
        context = self.context(default_language=edition.default_language)
        schedule = load_schedule(edition=edition, version=str(get_version("program")))
        content = frab.render_schedule(schedule, context, self_url=self.self_url(context))
        return _download(
            content, content_type="application/xml; charset=utf-8", filename=f"schedule-{year}.xml"
        )


@cached
class C3vocJsonView(_ExportView):
    def export(self, *, year: int) -> HttpResponse:
        edition = self.edition(year)
        context = self.context(default_language=edition.default_language)
        schedule = load_schedule(edition=edition, version=str(get_version("program")))
        content = c3voc.render_schedule(schedule, context, self_url=self.self_url(context))
        return _download(content, content_type="application/json", filename=f"schedule-{year}.json")
