"""Turn program models into the API's response dicts (see :mod:`gathering.api.schemas`).

A :class:`Presenter` holds what the request decides, the language and the site's address, so
the same edition or session always comes out the same way, in lists, details and the program.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Model, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import translation

from gathering.core.translated import resolve
from gathering.program.exports.common import clean_text, public_speakers
from gathering.program.models import Edition, Room, Session, Speaker, Track


@dataclass(frozen=True, slots=True)
class Presenter:
    request: HttpRequest
    # The language asked for; None: each edition's default language.
    language: str | None

    def language_for(self, edition: Edition | None) -> str:
        if self.language:
            return self.language
        return edition.default_language if edition else settings.LANGUAGE_CODE

    def text(self, value: Mapping[str, str] | None, edition: Edition | None) -> str:
        fallback = edition.default_language if edition else None
        return clean_text(resolve(value, self.language_for(edition), fallback=fallback))

    @staticmethod
    def translations(value: Mapping[str, str] | None) -> dict[str, str]:
        value = value or {}
        return {
            code: clean_text(str(value[code]))
            for code, _name in settings.LANGUAGES
            if value.get(code)
        }

    def texts(
        self, prefix: str, value: Mapping[str, str] | None, edition: Edition | None
    ) -> dict[str, Any]:
        return {prefix: self.text(value, edition), f"{prefix}_i18n": self.translations(value)}

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path)

    def api_url(self, name: str, **kwargs: Any) -> str:
        return self.absolute(reverse(f"api:{name}", kwargs=kwargs))

    def web_url(self, name: str, edition: Edition | None, **kwargs: Any) -> str:
        with translation.override(self.language_for(edition)):
            return self.absolute(reverse(name, kwargs=kwargs))

    def export_url(self, name: str, **kwargs: Any) -> str:
        """An export's address, asking for the same language as this request when it chose one."""
        url = self.absolute(reverse(f"exports:{name}", kwargs=kwargs))
        return f"{url}?lang={self.language}" if self.language else url

    # --- objects ---------------------------------------------------------------------------

    def edition(self, edition: Edition) -> dict[str, Any]:
        year = edition.year
        return {
            "year": year,
            **self.texts("title", edition.title, edition),
            **self.texts("focus", edition.focus, edition),
            **self.texts("city", edition.city, edition),
            "venue": {
                **self.texts("name", edition.venue_name, edition),
                **self.texts("address", edition.venue_address, edition),
                "latitude": float(edition.latitude) if edition.latitude is not None else None,
                "longitude": float(edition.longitude) if edition.longitude is not None else None,
            },
            "start_date": edition.start_date,
            "end_date": edition.end_date,
            "timezone": edition.timezone,
            "status": edition.status,
            "default_language": edition.default_language,
            "links": {
                "api": self.api_url("edition-detail", year=year),
                "sessions": self.api_url("edition-sessions", year=year),
                "speakers": self.api_url("edition-speakers", year=year),
                "program": self.api_url("edition-program", year=year),
                "web": self.web_url("program:edition-detail", edition, year=year),
                "web_program": self.web_url("program:session-list", edition, year=year),
                "ical": self.export_url("edition-ical", year=year),
                "schedule_json": self.export_url("c3voc-json", year=year),
                "schedule_xml": self.export_url("frab-xml", year=year),
            },
        }

    def room(self, room: Room, edition: Edition) -> dict[str, Any]:
        return {
            "slug": room.slug,
            **self.texts("name", room.name, edition),
            "capacity": room.capacity,
        }

    def track(self, track: Track, edition: Edition) -> dict[str, Any]:
        return {"slug": track.slug, **self.texts("name", track.name, edition), "color": track.color}

    def session_speaker(self, speaker: Speaker, edition: Edition) -> dict[str, Any]:
        return {
            "slug": speaker.slug,
            **self.texts("name", speaker.name, edition),
            **self.texts("role_title", speaker.role_title, edition),
            "links": self._speaker_links(speaker, edition),
        }

    def session(self, session: Session) -> dict[str, Any]:
        """``session`` as loaded by ``selectors.list_sessions`` (edition, room, track and
        public speakers already fetched)."""
        edition = session.edition
        tz = edition.tzinfo
        with translation.override(self.language_for(edition)):
            kind_label = str(session.get_kind_display())
        return {
            "id": session.pk,
            "year": edition.year,
            **self.texts("title", session.title, edition),
            **self.texts("abstract", session.abstract, edition),
            "kind": session.kind,
            "kind_label": kind_label,
            "start": session.start.astimezone(tz),
            "end": session.end.astimezone(tz),
            "duration_minutes": session.duration_minutes,
            "room": self.room(session.room, edition) if session.room else None,
            "track": self.track(session.track, edition) if session.track else None,
            "floor_language": session.floor_language,
            "interpretation_languages": [
                str(code) for code in session.interpretation_languages or []
            ],
            "stream_url": session.stream_url or None,
            "speakers": [
                self.session_speaker(speaker, edition) for speaker in public_speakers(session)
            ],
            "links": {
                "web": self.web_url(
                    "program:session-detail", edition, year=edition.year, pk=session.pk
                ),
                "ical": self.export_url("session-ical", year=edition.year, pk=session.pk),
            },
        }

    def _speaker_links(self, speaker: Speaker, edition: Edition | None) -> dict[str, str]:
        return {
            "api": self.api_url("speaker-detail", slug=speaker.slug),
            "web": self.web_url("program:speaker-detail", edition, slug=speaker.slug),
            "ical": self.export_url("speaker-ical", slug=speaker.slug),
        }

    def speaker(self, speaker: Speaker, edition: Edition | None = None) -> dict[str, Any]:
        return {
            "slug": speaker.slug,
            **self.texts("name", speaker.name, edition),
            **self.texts("role_title", speaker.role_title, edition),
            **self.texts("affiliation", speaker.affiliation, edition),
            **self.texts("biography", speaker.biography, edition),
            "country": speaker.country,
            "photo": self.absolute(speaker.photo.url) if speaker.photo else None,
            "links": self._speaker_links(speaker, edition),
        }


class Presented[M: Model]:
    """A queryset seen through a presenter, for ninja's pagination: it counts and slices in
    SQL, and only the rows of the page asked for are turned into response dicts."""

    def __init__(self, queryset: QuerySet[M], present: Callable[[M], dict[str, Any]]) -> None:
        self.queryset = queryset
        self.present = present

    def all(self) -> Presented[M]:
        return self

    def count(self) -> int:
        return self.queryset.count()

    def __len__(self) -> int:
        return self.count()

    def __getitem__(self, page: slice) -> list[dict[str, Any]]:
        return [self.present(item) for item in self.queryset[page]]
