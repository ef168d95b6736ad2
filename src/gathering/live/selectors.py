"""The live figures of an edition, as the live page, the wall and the event stream show them.

``snapshot`` is polled by the live server about twice a second for each edition someone is
watching (see ``publisher``), so every part of it is a few aggregate queries, and the parts
that change slowly or cost more are kept in the process for a few seconds.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.utils import timezone
from django.utils.timezone import now

from gathering.checkin.models import TicketPresence
from gathering.core.dates import localize_digits
from gathering.core.local_cache import LocalCache
from gathering.core.translated import fallback_language, resolve
from gathering.live.models import Announcement
from gathering.program import selectors as program
from gathering.program.models import Edition, Session
from gathering.registration.countries import country_name
from gathering.registration.models import Registration
from gathering.satellites.selectors import live_figures
from gathering.voices.models import Campaign
from gathering.voices.selectors import count_by_country, counted_signatures, list_wall_messages

ANNOUNCEMENTS_SHOWN = 5
MESSAGES_SHOWN = 20
NEXT_SESSIONS_SHOWN = 3

# Which topics a snapshot holds, in the order the pages show them.
TOPICS = ("checked_in", "sites", "voices", "countries", "stage", "announcements", "messages")

_editions: LocalCache[Edition | None] = LocalCache(seconds=5)
_stages: LocalCache[dict[str, Any]] = LocalCache(seconds=5)
_messages: LocalCache[dict[str, list[dict[str, str]]]] = LocalCache(seconds=10)
_countries: LocalCache[int] = LocalCache(seconds=5)


def get_live_edition(*, year: int) -> Edition | None:
    """The edition of ``year`` (cached a few seconds), or None."""
    return _editions.get_or_set(year, lambda: Edition.objects.filter(year=year).first())


def count_checked_in(*, edition: Edition) -> int:
    """People checked in at the main venue: tickets that entered through a gate of no site."""
    return (
        TicketPresence.objects.filter(edition=edition)
        .exclude(last_scan__gate__site__isnull=False)
        .count()
    )


def _published_campaigns(edition: Edition) -> list[Campaign]:
    return list(Campaign.objects.filter(edition=edition, is_published=True).order_by("position"))


def count_voices(*, edition: Edition) -> int:
    """Voices added: counted signatures of the edition's published campaigns (≤ 1 s old)."""
    return sum(
        count_by_country(campaign=campaign).total for campaign in _published_campaigns(edition)
    )


def _count_countries(edition: Edition, site_countries: tuple[str, ...]) -> int:
    registrations = (
        Registration.objects.filter(edition=edition, status=Registration.Status.CONFIRMED)
        .exclude(country="")
        .order_by()
        .values_list("country", flat=True)
        .distinct()
    )
    codes = set(site_countries) | set(registrations)
    for campaign in _published_campaigns(edition):
        codes.update(
            counted_signatures(campaign=campaign)
            .order_by()
            .values_list("country", flat=True)
            .distinct()
        )
    return len(codes)


def count_countries(*, edition: Edition, site_countries: tuple[str, ...] = ()) -> int:
    """Countries represented: of confirmed registrants, approved sites and counted signers.

    Only the number is shown, never which country, so a country with one person in it points
    at no one.
    """
    return _countries.get_or_set(
        (edition.pk, site_countries), lambda: _count_countries(edition, site_countries)
    )


def _languages() -> list[str]:
    return [code for code, _name in settings.LANGUAGES]


def _session_line(session: Session, language: str) -> dict[str, str]:
    start = timezone.localtime(session.start)
    end = timezone.localtime(session.end)
    return {
        "title": resolve(session.title, language),
        "room": resolve(session.room.name, language) if session.room else "",
        "time": localize_digits(f"{start:%H:%M}\u2013{end:%H:%M}", language),
        "start": session.start.isoformat(),
    }


def _stage(edition: Edition, moment: dt.datetime) -> dict[str, Any]:
    on_now = list(program.list_sessions_on_now(edition=edition, at=moment))
    next_up = program.list_next_sessions(edition=edition, at=moment, limit=NEXT_SESSIONS_SHOWN)
    stage: dict[str, Any] = {}
    with timezone.override(edition.tzinfo), fallback_language(edition.default_language):
        for language in _languages():
            stage[language] = {
                "now": [_session_line(session, language) for session in on_now],
                "next": [_session_line(session, language) for session in next_up],
            }
    return stage


def stage(*, edition: Edition) -> dict[str, Any]:
    """What is on stage now and next, per language (a few seconds old at most)."""
    return _stages.get_or_set(edition.pk, lambda: _stage(edition, now()))


def list_shown_announcements(*, edition: Edition) -> list[Announcement]:
    return list(
        Announcement.objects.filter(edition=edition, withdrawn_at__isnull=True).order_by(
            "-published_at", "-pk"
        )[:ANNOUNCEMENTS_SHOWN]
    )


def _announcement_lines(edition: Edition) -> dict[str, list[dict[str, Any]]]:
    shown = list_shown_announcements(edition=edition)
    lines: dict[str, list[dict[str, Any]]] = {}
    with timezone.override(edition.tzinfo), fallback_language(edition.default_language):
        for language in _languages():
            lines[language] = [
                {
                    "id": announcement.pk,
                    "text": resolve(announcement.text, language),
                    "level": announcement.level,
                    "time": localize_digits(
                        f"{timezone.localtime(announcement.published_at):%H:%M}", language
                    ),
                }
                for announcement in shown
            ]
    return lines


def _message_lines(edition: Edition) -> dict[str, list[dict[str, str]]]:
    signatures = []
    for campaign in _published_campaigns(edition):
        if campaign.asks_message:
            signatures.extend(list_wall_messages(campaign=campaign, limit=MESSAGES_SHOWN))
    signatures.sort(key=lambda signature: signature.confirmed_at or now(), reverse=True)
    signatures = signatures[:MESSAGES_SHOWN]
    lines: dict[str, list[dict[str, str]]] = {}
    for language in _languages():
        lines[language] = [
            {
                "text": signature.message or "",
                "name": signature.name or "" if signature.show_name else "",
                "country": country_name(signature.country, language),
            }
            for signature in signatures
            if signature.message
        ]
    return lines


def wall_messages(*, edition: Edition) -> dict[str, list[dict[str, str]]]:
    """Approved messages of solidarity, newest first, per language (≤ 10 s old)."""
    return _messages.get_or_set(edition.pk, lambda: _message_lines(edition))


def snapshot(*, year: int) -> dict[str, Any] | None:
    """Every live topic of the edition of ``year`` as JSON-ready values, or None if none.

    Counters are plain numbers (pages format them in their language); texts come in every
    language, already formatted, so one snapshot serves every viewer.
    """
    edition = get_live_edition(year=year)
    if edition is None:
        return None
    sites = live_figures(edition=edition)
    return {
        "checked_in": count_checked_in(edition=edition),
        "sites": {"connected": sites.connected, "attendance": sites.attendance},
        "voices": count_voices(edition=edition),
        "countries": count_countries(edition=edition, site_countries=sites.countries),
        "stage": stage(edition=edition),
        "announcements": _announcement_lines(edition),
        "messages": wall_messages(edition=edition),
    }
