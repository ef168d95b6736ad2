"""Reads of the program, shared by the public pages, the exports and the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from gathering.program.models import Edition, Room, Session, SessionSpeaker, Speaker, Track


@dataclass(frozen=True, slots=True)
class SessionFilters:
    """Validated filters of the program page and API (see ``forms.SessionFilterForm``)."""

    day: dt.date | None = None
    track: str | None = None  # track slug
    room: str | None = None  # room slug
    language: str | None = None  # floor or interpretation language
    kind: str | None = None


def list_editions() -> QuerySet[Edition]:
    return Edition.objects.order_by("-year")


def list_past_editions() -> QuerySet[Edition]:
    return Edition.objects.filter(status=Edition.Status.PAST).order_by("-year")


def get_edition(*, year: int) -> Edition:
    """Raises ``Edition.DoesNotExist``."""
    return Edition.objects.get(year=year)


def get_current_edition() -> Edition | None:
    """The edition the home page shows: the live one, else the next planned one, else the
    most recent past one."""
    live = Edition.objects.filter(status=Edition.Status.LIVE).order_by("-year").first()
    if live:
        return live
    planned = Edition.objects.filter(status=Edition.Status.PLANNED).order_by("year").first()
    if planned:
        return planned
    return Edition.objects.order_by("-year").first()


def _public_speaker_links() -> Prefetch[SessionSpeaker]:
    return Prefetch(
        "speaker_links",
        queryset=SessionSpeaker.objects.filter(speaker__is_public=True)
        .select_related("speaker")
        .order_by("position", "pk"),
        to_attr="public_speaker_links",
    )


def list_sessions(*, edition: Edition, filters: SessionFilters | None = None) -> QuerySet[Session]:
    """Sessions of ``edition`` in time order, with room, track and public speakers loaded
    (``session.public_speaker_links``)."""
    sessions = (
        Session.objects.filter(edition=edition)
        .select_related("room", "track", "edition")
        .prefetch_related(_public_speaker_links())
        .order_by("start", "room__position", "pk")
    )
    if filters is None:
        return sessions
    if filters.day:
        start = dt.datetime.combine(filters.day, dt.time.min, tzinfo=edition.tzinfo)
        sessions = sessions.filter(start__gte=start, start__lt=start + dt.timedelta(days=1))
    if filters.track:
        sessions = sessions.filter(track__slug=filters.track)
    if filters.room:
        sessions = sessions.filter(room__slug=filters.room)
    if filters.kind:
        sessions = sessions.filter(kind=filters.kind)
    if filters.language:
        # JSON "contains" is not portable to SQLite: filter the (small) list of codes in Python
        # would break the queryset, so match the floor language or the code inside the list.
        sessions = sessions.filter(floor_language=filters.language) | sessions.filter(
            interpretation_languages__icontains=f'"{filters.language}"'
        )
    return sessions


def get_session(*, edition: Edition, pk: int) -> Session:
    """Raises ``Session.DoesNotExist``."""
    return list_sessions(edition=edition).get(pk=pk)


def list_rooms(*, edition: Edition) -> QuerySet[Room]:
    return Room.objects.filter(edition=edition).order_by("position", "slug")


def list_tracks(*, edition: Edition) -> QuerySet[Track]:
    return Track.objects.filter(edition=edition).order_by("position", "slug")


def list_days(*, edition: Edition) -> list[dt.date]:
    """Every day of the edition, first to last."""
    days = (edition.end_date - edition.start_date).days + 1
    return [edition.start_date + dt.timedelta(days=offset) for offset in range(days)]


def list_public_speakers(*, edition: Edition | None = None) -> QuerySet[Speaker]:
    """Public speakers, of one edition when given (those with a session in it)."""
    speakers = Speaker.objects.filter(is_public=True)
    if edition is not None:
        speakers = speakers.filter(sessions__edition=edition).distinct()
    return speakers.order_by("slug")


def get_public_speaker(*, slug: str) -> Speaker:
    """Raises ``Speaker.DoesNotExist`` for unknown and non-public speakers alike."""
    return Speaker.objects.get(slug=slug, is_public=True)


def list_speaker_sessions(*, speaker: Speaker) -> QuerySet[Session]:
    return (
        Session.objects.filter(speakers=speaker)
        .select_related("room", "track", "edition")
        .prefetch_related(_public_speaker_links())
        .order_by("-edition__year", "start")
    )


def is_live_now(edition: Edition) -> bool:
    return edition.status == Edition.Status.LIVE or (
        edition.start_date <= timezone.localdate(timezone=edition.tzinfo) <= edition.end_date
        and edition.status != Edition.Status.PAST
    )
