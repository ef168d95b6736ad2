"""The frab-compatible schedule XML (https://c3voc.de/schedule/schema.xsd).

Read by schedule apps (Giggity, EventFahrplan), the VOC tracker and signage players. Only
generated here, never parsed: ElementTree escapes markup, and :func:`clean_text` has removed
the characters XML 1.0 cannot carry before any text reaches it.
"""

from __future__ import annotations

import re
from xml.etree.ElementTree import Element, SubElement, indent, tostring  # nosec B405 # builds XML, never parses any

from django.utils.translation import gettext as _
from django.utils.translation import override

from gathering.program.exports.common import (
    GENERATOR_NAME,
    TIMESLOT_DURATION,
    ExportContext,
    Schedule,
    acronym,
    clean_colour,
    clean_text,
    day_bounds,
    generator_version,
    local,
    public_speakers,
    room_guid,
    session_guid,
    session_slug,
    speaker_guid,
)
from gathering.program.models import Session

# The XSD's own slug type for tracks: starts with a letter.
_TRACK_SLUG = re.compile(r"[a-z][a-z0-9-]+")
# The XSD allows at most two digits of hours.
_MAX_MINUTES = 99 * 60 + 59


def _text(parent: Element, tag: str, text: str, **attributes: str) -> Element:
    element = SubElement(parent, tag, attributes)
    element.text = text
    return element


def _duration(session: Session) -> str:
    minutes = min(max(int((session.end - session.start).total_seconds() // 60), 0), _MAX_MINUTES)
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def _event(
    parent: Element, session: Session, room_label: str, schedule: Schedule, context: ExportContext
) -> None:
    edition = schedule.edition
    start = local(session.start, edition)
    event = SubElement(parent, "event", {"id": str(session.pk), "guid": str(session_guid(session))})
    _text(event, "date", start.isoformat())
    _text(event, "start", start.strftime("%H:%M"))
    _text(event, "duration", _duration(session))
    _text(event, "room", room_label)
    _text(event, "slug", session_slug(session))
    _text(event, "url", context.session_url(session))
    _text(event, "title", context.text(session.title, edition))
    _text(event, "subtitle", "")
    track = ""
    if session.track is not None:
        track = context.text(session.track.name, edition) or session.track.slug
    _text(event, "track", track)
    _text(event, "type", session.kind)
    _text(event, "language", clean_text(session.floor_language))
    _text(event, "abstract", context.text(session.abstract, edition))
    _text(event, "description", "")
    persons = SubElement(event, "persons")
    for speaker in public_speakers(session):
        _text(
            persons,
            "person",
            context.text(speaker.name, edition) or speaker.slug,
            id=str(speaker.pk),
            guid=str(speaker_guid(speaker)),
        )
    links = SubElement(event, "links")
    if session.stream_url.startswith(("http://", "https://")):
        _text(links, "link", _("Live stream"), href=clean_text(session.stream_url))


def build_schedule(
    schedule: Schedule, context: ExportContext, *, self_url: str | None = None
) -> Element:
    edition = schedule.edition
    labels = context.room_labels(edition, schedule.rooms)
    roomless = any(session.room_id is None for session in schedule.sessions)
    by_day = schedule.sessions_by_day()

    root = Element("schedule")
    SubElement(root, "generator", {"name": GENERATOR_NAME, "version": generator_version()})
    if self_url:
        _text(root, "url", self_url)
    _text(root, "version", schedule.version)
    conference = SubElement(root, "conference")
    _text(conference, "acronym", acronym(edition))
    _text(conference, "title", context.text(edition.title, edition))
    _text(conference, "start", edition.start_date.isoformat())
    _text(conference, "end", edition.end_date.isoformat())
    _text(conference, "days", str(len(by_day)))
    _text(conference, "timeslot_duration", TIMESLOT_DURATION)
    _text(conference, "base_url", context.absolute("/"))
    _text(conference, "url", context.edition_url(edition))
    _text(conference, "time_zone_name", clean_text(edition.timezone))
    for track in schedule.tracks:
        attributes = {"name": context.text(track.name, edition) or track.slug}
        if colour := clean_colour(track.color):
            attributes["color"] = colour
        if _TRACK_SLUG.fullmatch(track.slug):
            attributes["slug"] = track.slug
        SubElement(conference, "track", attributes)

    for index, (day, sessions) in enumerate(by_day.items(), start=1):
        day_start, day_end = day_bounds(edition, day, sessions)
        day_element = SubElement(
            root,
            "day",
            {
                "index": str(index),
                "date": day.isoformat(),
                "start": day_start.isoformat(),
                "end": day_end.isoformat(),
            },
        )
        rooms: dict[int | None, Element] = {}
        for room in schedule.rooms:
            rooms[room.pk] = SubElement(
                day_element,
                "room",
                {
                    "name": labels[room.pk],
                    "guid": str(room_guid(edition, room)),
                },
            )
        if roomless:
            rooms[None] = SubElement(
                day_element,
                "room",
                {
                    "name": labels[None],
                    "guid": str(room_guid(edition, None)),
                },
            )
        for session in sessions:
            _event(rooms[session.room_id], session, labels[session.room_id], schedule, context)
    return root


def render_schedule(
    schedule: Schedule, context: ExportContext, *, self_url: str | None = None
) -> bytes:
    with override(context.language):  # the export's few fixed words, in its language
        root = build_schedule(schedule, context, self_url=self_url)
    indent(root, space=" ")
    return bytes(tostring(root, encoding="utf-8", xml_declaration=True)) + b"\n"
