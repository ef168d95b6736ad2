"""What every export shares: the language, clean text, absolute links and stable identifiers."""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from urllib.parse import urlsplit

from django.conf import settings
from django.urls import reverse
from django.utils import translation
from django.utils.text import slugify
from django.utils.translation import gettext as _

from gathering.core.translated import resolve
from gathering.program.models import Edition, Room, Session, Speaker, Track
from gathering.program.selectors import list_rooms, list_sessions, list_tracks

# Everything XML 1.0 can carry, less the C1 controls and NEL (legal there, but garbage in a
# schedule): the same text must survive XML, JSON and iCalendar, and lone surrogates (which a
# JSON column can hold) cannot even be encoded as UTF-8.
_UNCARRIABLE = re.compile("[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# Stable namespace for the UUIDs of sessions, rooms and speakers in schedule exports: the same
# session keeps its guid across exports, languages and hosts.
GUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:gathering:schedule")

GENERATOR_NAME = "Gathering"
SCHEMA_URL = "https://c3voc.de/schedule/schema.json"
TIMESLOT_DURATION = "00:05"
_SLUG = re.compile(r"[a-z0-9_-]+[a-z0-9]")
_HEX_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


class UnknownLanguageError(ValueError):
    """The ``lang`` query parameter names no language of the site."""

    def __init__(self) -> None:
        codes = ", ".join(code for code, _name in settings.LANGUAGES)
        super().__init__(_("Unknown language: use one of %(codes)s.") % {"codes": codes})


def parse_language(raw: str | None, *, default: str) -> str:
    """The language asked for by ``?lang=`` (absent or empty: ``default``).

    Raises :class:`UnknownLanguageError` for anything but a code of ``settings.LANGUAGES``.
    """
    if raw is None or not raw.strip():
        return default
    code = raw.strip().lower()
    if code not in {code for code, _name in settings.LANGUAGES}:
        raise UnknownLanguageError
    return code


def clean_text(value: str) -> str:
    """``value`` without the characters that XML 1.0 (and so every export) cannot carry."""
    return _UNCARRIABLE.sub("", value)


def generator_version() -> str:
    try:
        return metadata.version("gathering")
    except metadata.PackageNotFoundError:  # running from a source tree that was never installed
        return "dev"


def session_guid(session: Session) -> uuid.UUID:
    return uuid.uuid5(GUID_NAMESPACE, f"{session.edition.year}/session/{session.pk}")


def room_guid(edition: Edition, room: Room | None) -> uuid.UUID:
    return uuid.uuid5(GUID_NAMESPACE, f"{edition.year}/room/{room.pk if room else 'venue'}")


def speaker_guid(speaker: Speaker) -> uuid.UUID:
    return uuid.uuid5(GUID_NAMESPACE, f"speaker/{speaker.pk}")


def acronym(edition: Edition) -> str:
    """Short lowercase name of the edition, valid as a c3voc acronym (``gathering2026``)."""
    return f"gathering{edition.year}"


def session_slug(session: Session) -> str:
    """``<acronym>-<id>-<title in ASCII>``, unique per session and valid for c3voc and frab."""
    title = slugify(resolve(session.title, "en"))[:60].strip("-_") or "session"
    return f"{acronym(session.edition)}-{session.pk}-{title}"


def clean_slug(slug: str) -> str | None:
    """``slug`` as c3voc wants one (lowercase, ends with a letter or digit), else None."""
    slug = slug.lower().strip("-_")
    return slug if _SLUG.fullmatch(slug) else None


def clean_colour(colour: str) -> str | None:
    return colour.lower() if _HEX_COLOUR.fullmatch(colour or "") else None


def hours_minutes(delta: dt.timedelta) -> str:
    minutes = max(int(delta.total_seconds() // 60), 0)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(slots=True)
class ExportContext:
    """The request-independent inputs of one export: language and the site's address."""

    language: str
    base_url: str  # scheme and host, no trailing slash: "https://example.org"
    uid_domain: str = "gathering"

    def text(self, value: Mapping[str, str] | None, edition: Edition) -> str:
        """A translated text in the export's language, falling back to the edition's default."""
        return clean_text(resolve(value, self.language, fallback=edition.default_language))

    def absolute(self, path: str) -> str:
        return f"{self.base_url}{path}"

    def page_url(self, name: str, **kwargs: object) -> str:
        """Absolute address of a public page, in the export's language."""
        with translation.override(self.language):
            return self.absolute(reverse(name, kwargs=kwargs))

    def session_url(self, session: Session) -> str:
        return self.page_url("program:session-detail", year=session.edition.year, pk=session.pk)

    def speaker_url(self, speaker: Speaker) -> str:
        return self.page_url("program:speaker-detail", slug=speaker.slug)

    def edition_url(self, edition: Edition) -> str:
        return self.page_url("program:edition-detail", year=edition.year)

    def photo_url(self, speaker: Speaker) -> str | None:
        return self.absolute(speaker.photo.url) if speaker.photo else None

    def venue_label(self, edition: Edition) -> str:
        return self.text(edition.venue_name, edition) or _("Venue")

    def room_labels(self, edition: Edition, rooms: Iterable[Room]) -> dict[int | None, str]:
        """A distinct display name per room (schedule formats key rooms by name); ``None`` is
        the label for sessions without a room (the venue)."""
        labels: dict[int | None, str] = {}
        taken: set[str] = set()
        for room in rooms:
            label = self.text(room.name, edition) or room.slug
            if label in taken:
                label = f"{label} ({room.slug})"
            taken.add(label)
            labels[room.pk] = label
        venue = self.venue_label(edition)
        labels[None] = venue if venue not in taken else f"{venue} ({_('venue')})"
        return labels


@dataclass(frozen=True, slots=True)
class Schedule:
    """One edition's program, loaded once for any export format."""

    edition: Edition
    rooms: list[Room]
    tracks: list[Track]
    sessions: list[Session]
    version: str

    def sessions_by_day(self) -> dict[dt.date, list[Session]]:
        by_day: dict[dt.date, list[Session]] = {
            day: [] for day in schedule_days(self.edition, self.sessions)
        }
        for session in self.sessions:
            by_day[local(session.start, self.edition).date()].append(session)
        return by_day


def load_schedule(*, edition: Edition, version: str) -> Schedule:
    """The edition's rooms, tracks and sessions (with public speakers): four queries."""
    return Schedule(
        edition=edition,
        rooms=list(list_rooms(edition=edition)),
        tracks=list(list_tracks(edition=edition)),
        sessions=list(list_sessions(edition=edition)),
        version=version,
    )


def export_context(*, language: str, base_url: str, website: str = "") -> ExportContext:
    """The context of an export; iCalendar UIDs use the organisation's web domain when it has
    one (stable whatever host serves the file), else ``gathering``."""
    domain = urlsplit(website).hostname if website else None
    return ExportContext(
        language=language, base_url=base_url.rstrip("/"), uid_domain=domain or "gathering"
    )


def public_speakers(session: Session) -> list[Speaker]:
    """The public speakers of a session loaded by ``selectors.list_sessions`` (in order)."""
    return [link.speaker for link in getattr(session, "public_speaker_links", [])]


def local(moment: dt.datetime, edition: Edition) -> dt.datetime:
    return moment.astimezone(edition.tzinfo).replace(microsecond=0)


def schedule_days(edition: Edition, sessions: Iterable[Session]) -> list[dt.date]:
    """Every day of the edition, plus any day a session starts on outside those dates."""
    days = {
        edition.start_date + dt.timedelta(days=n)
        for n in range((edition.end_date - edition.start_date).days + 1)
    }
    days.update(local(session.start, edition).date() for session in sessions)
    return sorted(days)


def day_bounds(
    edition: Edition, day: dt.date, sessions: Iterable[Session]
) -> tuple[dt.datetime, dt.datetime]:
    """Local midnight to the next midnight, stretched to the end of sessions running late."""
    start = dt.datetime.combine(day, dt.time.min, tzinfo=edition.tzinfo)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=edition.tzinfo)
    for session in sessions:
        end = max(end, local(session.end, edition))
    return start, end
