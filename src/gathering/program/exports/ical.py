"""iCalendar (RFC 5545) feeds: an edition's whole program, one session, one speaker's sessions.

Times carry the edition's TZID with a matching VTIMEZONE, which Google, Apple and Outlook
calendars all read: a session shows at the local time of the venue, and stays right across a
daylight-saving change. Each session's UID never changes, so a re-imported or subscribed feed
updates events in place instead of duplicating them.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Sequence

from django.utils.translation import get_language_info, override
from django.utils.translation import gettext as _
from icalendar import Calendar, Event, Timezone

from gathering.program.exports.common import (
    GENERATOR_NAME,
    ExportContext,
    clean_text,
    generator_version,
    local,
    public_speakers,
)
from gathering.program.models import Edition, Session


def session_uid(session: Session, context: ExportContext) -> str:
    return f"session-{session.pk}@{context.uid_domain}"


def _language_name(code: str) -> str:
    try:
        return str(get_language_info(code)["name_translated"])
    except KeyError:
        return code


def _location(session: Session, context: ExportContext) -> str:
    edition = session.edition
    parts = [
        context.text(session.room.name, edition) if session.room else "",
        context.text(edition.venue_name, edition),
        context.text(edition.venue_address, edition).replace("\r", "").replace("\n", ", "),
    ]
    return ", ".join(part for part in parts if part)


def _description(session: Session, context: ExportContext) -> str:
    edition = session.edition
    lines = [context.text(session.abstract, edition)]
    speakers = [
        context.text(speaker.name, edition) or speaker.slug for speaker in public_speakers(session)
    ]
    if speakers:
        lines.append(_("Speakers: %(names)s") % {"names": ", ".join(speakers)})
    language = _("Language: %(language)s") % {
        "language": _language_name(clean_text(session.floor_language))
    }
    interpretation = [
        _language_name(clean_text(str(code))) for code in session.interpretation_languages or []
    ]
    if interpretation:
        language += " · " + _("interpretation: %(languages)s") % {
            "languages": ", ".join(interpretation)
        }
    lines.append(language)
    lines.append(context.session_url(session))
    return "\n\n".join(line for line in lines if line)


def _event(session: Session, context: ExportContext) -> Event:
    edition = session.edition
    event = Event()
    event.add("uid", session_uid(session, context))
    event.add("dtstamp", session.updated_at.astimezone(dt.UTC).replace(microsecond=0))
    event.add("last-modified", session.updated_at.astimezone(dt.UTC).replace(microsecond=0))
    event.add("dtstart", local(session.start, edition))
    event.add("dtend", local(session.end, edition))
    event.add("summary", context.text(session.title, edition))
    event.add("description", _description(session, context))
    if location := _location(session, context):
        event.add("location", location)
    if edition.latitude is not None and edition.longitude is not None:
        event.add("geo", (float(edition.latitude), float(edition.longitude)))
    event.add("url", context.session_url(session))
    categories = [str(session.get_kind_display())]
    if session.track is not None:
        categories.insert(0, context.text(session.track.name, edition) or session.track.slug)
    event.add("categories", [category for category in categories if category])
    return event


def build_calendar(
    *, sessions: Sequence[Session], name: str, context: ExportContext, editions: Sequence[Edition]
) -> Calendar:
    """A calendar of ``sessions`` (loaded by ``selectors.list_sessions`` or alike), with the
    VTIMEZONE of every edition in ``editions`` and of every session."""
    calendar = Calendar()
    calendar.add("prodid", f"-//{GENERATOR_NAME}//Program {generator_version()}//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("name", clean_text(name))
    calendar.add("x-wr-calname", clean_text(name))
    calendar.add("x-published-ttl", "PT1H")
    if len(editions) == 1:
        calendar.add("x-wr-timezone", editions[0].timezone)
    with override(context.language):
        for session in sessions:
            calendar.add_component(_event(session, context))
    years = [edition.year for edition in editions] + [s.edition.year for s in sessions]
    first = dt.date(min(years, default=2000), 1, 1)
    last = dt.date(max(years, default=2000) + 1, 12, 31)
    # Every edition's zone, even without sessions: a calendar needs at least one component.
    for zone in dict.fromkeys(edition.timezone for edition in editions):
        if zone != "UTC":
            calendar.add_component(
                Timezone.from_tzinfo(zoneinfo.ZoneInfo(zone), first_date=first, last_date=last)
            )
    calendar.add_missing_timezones(first_date=first, last_date=last)
    _timezones_first(calendar)
    return calendar


def _timezones_first(calendar: Calendar) -> None:
    # RFC 5545 lets VTIMEZONE come anywhere, but some clients only read zones defined before
    # the events that use them.
    calendar.subcomponents.sort(key=lambda component: component.name != "VTIMEZONE")


def render_calendar(
    *, sessions: Sequence[Session], name: str, context: ExportContext, editions: Sequence[Edition]
) -> bytes:
    calendar = build_calendar(sessions=sessions, name=name, context=context, editions=editions)
    return bytes(calendar.to_ical())
