"""The c3voc schedule JSON (v1, https://c3voc.de/schedule/schema.json), as pretalx exports it.

Read by video teams (the VOC tracker), signage and schedule apps. The layout is fixed by the
schema: rooms live under ``conference``, each day maps room names to that room's events.
"""

from __future__ import annotations

import json
import re
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import override

from gathering.program.exports.common import (
    GENERATOR_NAME,
    SCHEMA_URL,
    TIMESLOT_DURATION,
    ExportContext,
    Schedule,
    acronym,
    clean_colour,
    clean_slug,
    clean_text,
    day_bounds,
    generator_version,
    hours_minutes,
    local,
    public_speakers,
    room_guid,
    session_guid,
    session_slug,
    speaker_guid,
)
from gathering.program.models import Session, Speaker

# The schema's own pattern for time zone names; other names (Etc/GMT+3) are left out.
_TIME_ZONE_NAME = re.compile(r"^([A-Z][a-z]+/[A-Z][a-z]+)|UTC$")


def _person(speaker: Speaker, schedule: Schedule, context: ExportContext) -> dict[str, Any]:
    # A person must match exactly one of the schema's FrabPerson (id + public_name) and
    # PretalxPerson (name): giving "name" and no "id" makes it a PretalxPerson only.
    name = context.text(speaker.name, schedule.edition) or speaker.slug
    person: dict[str, Any] = {
        "guid": str(speaker_guid(speaker)),
        "name": name,
        "public_name": name,
        "biography": context.text(speaker.biography, schedule.edition) or None,
        "url": context.speaker_url(speaker),
    }
    if photo := context.photo_url(speaker):
        person["avatar"] = photo
    return person


def _track_name(session: Session, context: ExportContext) -> str | None:
    if session.track is None:
        return None
    return context.text(session.track.name, session.edition) or session.track.slug


def _event(
    session: Session, room_label: str, schedule: Schedule, context: ExportContext
) -> dict[str, Any]:
    edition = schedule.edition
    start = local(session.start, edition)
    links = []
    if session.stream_url.startswith(("http://", "https://")):
        links.append(
            {"type": "media", "url": clean_text(session.stream_url), "title": _("Live stream")}
        )
    return {
        "id": session.pk,
        "guid": str(session_guid(session)),
        "date": start.isoformat(),
        "start": start.strftime("%H:%M"),
        "end": local(session.end, edition).isoformat(),
        "duration": hours_minutes(session.end - session.start),
        "room": room_label,
        "slug": session_slug(session),
        "url": context.session_url(session),
        "title": context.text(session.title, edition),
        "subtitle": "",
        "track": _track_name(session, context),
        "type": session.kind,
        "language": clean_text(session.floor_language) or None,
        "abstract": context.text(session.abstract, edition),
        "description": "",
        "persons": [_person(speaker, schedule, context) for speaker in public_speakers(session)],
        "links": links,
        "attachments": [],
    }


def build_schedule(
    schedule: Schedule, context: ExportContext, *, self_url: str | None = None
) -> dict[str, Any]:
    """The schedule document (a dict ready for ``json.dumps``)."""
    edition = schedule.edition
    labels = context.room_labels(edition, schedule.rooms)
    roomless = any(session.room_id is None for session in schedule.sessions)

    rooms: list[dict[str, Any]] = []
    for room in schedule.rooms:
        entry: dict[str, Any] = {
            "name": labels[room.pk],
            "guid": str(room_guid(edition, room)),
            "capacity": room.capacity,
        }
        if slug := clean_slug(room.slug):
            entry["slug"] = slug
        rooms.append(entry)
    if roomless:
        rooms.append({"name": labels[None], "guid": str(room_guid(edition, None))})

    tracks: list[dict[str, Any]] = []
    for track in schedule.tracks:
        entry = {"name": context.text(track.name, edition) or track.slug}
        if slug := clean_slug(track.slug):
            entry["slug"] = slug
        if colour := clean_colour(track.color):
            entry["color"] = colour
        tracks.append(entry)

    days: list[dict[str, Any]] = []
    for index, (day, sessions) in enumerate(schedule.sessions_by_day().items(), start=1):
        by_room: dict[str, list[dict[str, Any]]] = {labels[room.pk]: [] for room in schedule.rooms}
        if roomless:
            by_room[labels[None]] = []
        for session in sessions:
            label = labels[session.room_id]
            by_room[label].append(_event(session, label, schedule, context))
        day_start, day_end = day_bounds(edition, day, sessions)
        days.append(
            {
                "index": index,
                "date": day.isoformat(),
                "day_start": day_start.isoformat(),
                "day_end": day_end.isoformat(),
                "rooms": by_room,
            }
        )

    conference: dict[str, Any] = {
        "acronym": acronym(edition),
        "title": context.text(edition.title, edition),
        "description": context.text(edition.focus, edition),
        "start": edition.start_date.isoformat(),
        "end": edition.end_date.isoformat(),
        "daysCount": len(days),
        "timeslot_duration": TIMESLOT_DURATION,
        "url": context.edition_url(edition),
        "tracks": tracks,
        "rooms": rooms,
        "days": days,
    }
    if _TIME_ZONE_NAME.search(edition.timezone):
        conference["time_zone_name"] = edition.timezone

    generator: dict[str, Any] = {"name": GENERATOR_NAME, "version": generator_version()}
    document: dict[str, Any] = {
        "$schema": SCHEMA_URL,
        "generator": generator,
        "schedule": {
            "version": schedule.version,
            "base_url": context.absolute("/"),
            "conference": conference,
        },
    }
    if self_url:
        document["schedule"]["url"] = self_url
    return document


def render_schedule(
    schedule: Schedule, context: ExportContext, *, self_url: str | None = None
) -> bytes:
    with override(context.language):  # the export's few fixed words, in its language
        document = build_schedule(schedule, context, self_url=self_url)
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()
