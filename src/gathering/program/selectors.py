"""Reads of the program, shared by the public pages, the exports and the API."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

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


def _public_speaker_links() -> Any:  # django-stubs types Prefetch by lookup string
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


@dataclass(frozen=True, slots=True)
class ProgramDay:
    """One day of the program: its date in the edition's time zone and its sessions in order."""

    day: dt.date
    sessions: list[Session]


def list_program_days(
    *, edition: Edition, filters: SessionFilters | None = None
) -> list[ProgramDay]:
    """The sessions of :func:`list_sessions` grouped by their starting day in the edition's time
    zone, first day first. Days without a matching session are left out. Two queries."""
    tz = edition.tzinfo
    days: dict[dt.date, list[Session]] = {}
    for session in list_sessions(edition=edition, filters=filters):
        days.setdefault(session.start.astimezone(tz).date(), []).append(session)
    return [ProgramDay(day=day, sessions=sessions) for day, sessions in days.items()]


def list_session_languages(*, edition: Edition) -> list[str]:
    """Every floor and interpretation language code used by a session of ``edition``, sorted."""
    codes: set[str] = set()
    rows = Session.objects.filter(edition=edition).values_list(
        "floor_language", "interpretation_languages"
    )
    for floor, interpretation in rows:
        if floor:
            codes.add(floor)
        if isinstance(interpretation, list):
            codes.update(code for code in interpretation if isinstance(code, str) and code)
    return sorted(codes)


def list_sessions_on_now(*, edition: Edition, at: dt.datetime) -> QuerySet[Session]:
    """Sessions of ``edition`` running at ``at`` (started, not yet ended)."""
    return list_sessions(edition=edition).filter(start__lte=at, end__gt=at)


def list_next_sessions(*, edition: Edition, at: dt.datetime, limit: int = 3) -> list[Session]:
    """The first ``limit`` sessions of ``edition`` that start after ``at``."""
    return list(list_sessions(edition=edition).filter(start__gt=at)[:limit])


def count_days_to_start(*, edition: Edition) -> int:
    """Whole days from today (in the edition's time zone) to its first day; negative once begun."""
    return (edition.start_date - timezone.localdate(timezone=edition.tzinfo)).days


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


# Conflicts in the program, shown to organisers in the back office. Two queries per edition;
# the overlap check runs in Python over sessions sorted by start.


def _when(session: Session, tz: dt.tzinfo) -> str:
    """Day and times of ``session`` ("Sat 27 Jun 10:00 to 11:00" style) in the time zone ``tz``
    and the active language."""
    from django.utils.dateformat import format as format_date
    from django.utils.translation import get_language

    from gathering.core.dates import localize_digits

    start, end = session.start.astimezone(tz), session.end.astimezone(tz)
    text = f"{format_date(start, 'D j M')} {format_date(start, 'H:i')}\N{EN DASH}{format_date(end, 'H:i')}"
    return localize_digits(text, get_language())


@dataclass(frozen=True, slots=True)
class SpeakerConflict:
    """``speaker`` is in two sessions whose times overlap (``first`` starts no later)."""

    speaker: Speaker
    first: Session
    second: Session
    tz: dt.tzinfo

    @property
    def kind(self) -> str:
        return "speaker"

    @property
    def sessions(self) -> tuple[Session, ...]:
        return (self.first, self.second)

    @property
    def message(self) -> str:
        from django.utils.translation import gettext

        return gettext(
            "%(speaker)s is in two sessions at the same time: “%(first)s” (%(first_when)s) "
            "and “%(second)s” (%(second_when)s)."
        ) % {
            "speaker": self.speaker,
            "first": self.first,
            "first_when": _when(self.first, self.tz),
            "second": self.second,
            "second_when": _when(self.second, self.tz),
        }


@dataclass(frozen=True, slots=True)
class RoomConflict:
    """``room`` holds two sessions whose times overlap (``first`` starts no later)."""

    room: Room
    first: Session
    second: Session
    tz: dt.tzinfo

    @property
    def kind(self) -> str:
        return "room"

    @property
    def sessions(self) -> tuple[Session, ...]:
        return (self.first, self.second)

    @property
    def message(self) -> str:
        from django.utils.translation import gettext

        return gettext(
            "%(room)s is booked twice: “%(first)s” (%(first_when)s) "
            "and “%(second)s” (%(second_when)s)."
        ) % {
            "room": self.room,
            "first": self.first,
            "first_when": _when(self.first, self.tz),
            "second": self.second,
            "second_when": _when(self.second, self.tz),
        }


@dataclass(frozen=True, slots=True)
class OutsideDatesConflict:
    """``session`` starts before the edition's first day or ends after its last day, counted in
    the edition's time zone."""

    session: Session
    edition: Edition

    @property
    def kind(self) -> str:
        return "dates"

    @property
    def sessions(self) -> tuple[Session, ...]:
        return (self.session,)

    @property
    def message(self) -> str:
        from django.utils.dateformat import format as format_date
        from django.utils.translation import get_language, gettext

        from gathering.core.dates import localize_digits

        return gettext(
            "“%(session)s” (%(when)s) is outside the edition's dates, %(first_day)s to %(last_day)s."
        ) % {
            "session": self.session,
            "when": _when(self.session, self.edition.tzinfo),
            "first_day": localize_digits(
                format_date(self.edition.start_date, "D j M Y"), get_language()
            ),
            "last_day": localize_digits(
                format_date(self.edition.end_date, "D j M Y"), get_language()
            ),
        }


Conflict = SpeakerConflict | RoomConflict | OutsideDatesConflict


def _overlapping_pairs(sessions: list[Session]) -> list[tuple[Session, Session]]:
    """Every pair of overlapping sessions, earlier start first. Sessions that only touch
    (one ends at 11:00, the next starts at 11:00) do not overlap. O(n log n + pairs)."""
    pairs: list[tuple[Session, Session]] = []
    running: list[Session] = []
    for session in sorted(sessions, key=lambda item: (item.start, item.end, item.pk)):
        running = [other for other in running if other.end > session.start]
        pairs.extend((other, session) for other in running)
        running.append(session)
    return pairs


def list_conflicts(*, edition: Edition) -> list[Conflict]:
    """Problems in the program of ``edition``: a speaker in two overlapping sessions, a room
    holding two overlapping sessions, a session outside the edition's dates (in its time zone).

    Only sessions of ``edition`` are compared. Ordered by the time of the (first) session, then
    by kind. Two queries.
    """
    tz = edition.tzinfo
    sessions = list(
        Session.objects.filter(edition=edition).select_related("room").order_by("start", "pk")
    )
    by_pk = {session.pk: session for session in sessions}
    for session in sessions:
        session.edition = edition  # spare a query when a message or template needs it
    conflicts: list[Conflict] = []

    for session in sessions:
        first_day = session.start.astimezone(tz).date()
        # A session ending at midnight after the last day still ends on that day.
        last_day = (session.end.astimezone(tz) - dt.timedelta(microseconds=1)).date()
        if first_day < edition.start_date or last_day > edition.end_date:
            conflicts.append(OutsideDatesConflict(session=session, edition=edition))

    rooms: dict[int, list[Session]] = {}
    for session in sessions:
        if session.room_id is not None:
            rooms.setdefault(session.room_id, []).append(session)
    for room_sessions in rooms.values():
        room = room_sessions[0].room
        if room is None:  # cannot happen: grouped by room above
            continue
        for first, second in _overlapping_pairs(room_sessions):
            conflicts.append(RoomConflict(room=room, first=first, second=second, tz=tz))

    speakers: dict[int, Speaker] = {}
    speaker_sessions: dict[int, list[Session]] = {}
    links = SessionSpeaker.objects.filter(session__edition=edition).select_related("speaker")
    for link in links:
        linked = by_pk.get(link.session_id)
        if linked is None:  # added between the two queries
            continue
        speakers[link.speaker_id] = link.speaker
        speaker_sessions.setdefault(link.speaker_id, []).append(linked)
    for speaker_id, own_sessions in speaker_sessions.items():
        for first, second in _overlapping_pairs(own_sessions):
            conflicts.append(
                SpeakerConflict(speaker=speakers[speaker_id], first=first, second=second, tz=tz)
            )

    order = {"dates": 0, "room": 1, "speaker": 2}
    conflicts.sort(key=lambda item: (item.sessions[0].start, order[item.kind]))
    return conflicts
