"""The live snapshot counts what the issue asks, from the real tables."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils.timezone import now

from gathering.checkin import services as checkin
from gathering.checkin.tests.factories import GateFactory, issue_ticket, nonce
from gathering.live import selectors, services
from gathering.live.models import Announcement
from gathering.program.tests.factories import EditionFactory, RoomFactory, SessionFactory, texts

pytestmark = pytest.mark.django_db


def _fresh() -> None:
    from gathering.core.local_cache import clear_all

    clear_all()


def test_unknown_year_has_no_snapshot() -> None:
    assert selectors.snapshot(year=1999) is None


def test_empty_edition_snapshot_has_every_topic() -> None:
    edition = EditionFactory()
    snapshot = selectors.snapshot(year=edition.year)
    assert snapshot is not None
    assert set(snapshot) == set(selectors.TOPICS)
    assert snapshot["checked_in"] == 0
    assert snapshot["sites"] == {"connected": 0, "attendance": 0}
    assert snapshot["voices"] == 0
    assert snapshot["countries"] == 0
    assert snapshot["stage"]["fa"] == {"now": [], "next": []}
    assert snapshot["announcements"]["en"] == []


def test_checked_in_counts_main_venue_tickets_once() -> None:
    edition = EditionFactory()
    gate = GateFactory(edition=edition)
    first, second = issue_ticket(edition), issue_ticket(edition)
    for issued in (first, second):
        checkin.record_scan(code=issued.code, gate=gate, direction="entry", nonce=nonce("in"))
    # Out and in again: still one person.
    checkin.record_scan(code=first.code, gate=gate, direction="exit", nonce=nonce("out"))
    checkin.record_scan(code=first.code, gate=gate, direction="entry", nonce=nonce("again"))
    # A refused scan counts no one.
    checkin.record_scan(code="garbage", gate=gate, direction="entry", nonce=nonce("bad"))
    assert selectors.count_checked_in(edition=edition) == 2
    # Both registrants live in France.
    _fresh()
    assert selectors.snapshot(year=edition.year)["countries"] == 1  # type: ignore[index]


def test_stage_now_and_next_in_every_language() -> None:
    today = now().date()
    edition = EditionFactory(start_date=today, end_date=today)
    room = RoomFactory(edition=edition, name=texts("Main hall", "سالن اصلی", "Grande salle"))
    moment = now()
    SessionFactory(
        edition=edition,
        room=room,
        title=texts("Opening", "گشایش", "Ouverture"),
        start=moment - dt.timedelta(minutes=10),
        end=moment + dt.timedelta(minutes=20),
    )
    SessionFactory(
        edition=edition,
        room=room,
        title=texts("Closing", "پایان", "Clôture"),
        start=moment + dt.timedelta(hours=1),
        end=moment + dt.timedelta(hours=2),
    )
    stage = selectors.stage(edition=edition)
    assert [line["title"] for line in stage["en"]["now"]] == ["Opening"]
    assert [line["title"] for line in stage["fa"]["next"]] == ["پایان"]
    assert stage["fr"]["now"][0]["room"] == "Grande salle"
    # Persian times in Persian digits.
    assert all(char not in "0123456789" for char in stage["fa"]["now"][0]["time"])


def test_announcements_newest_first_withdrawn_hidden() -> None:
    edition = EditionFactory()
    older = services.post_announcement(edition=edition, text={"en": "Doors open", "fa": "درها باز"})
    services.post_announcement(
        edition=edition, text={"en": "Buses at gate B"}, level=Announcement.Level.IMPORTANT
    )
    lines = selectors.snapshot(year=edition.year)["announcements"]  # type: ignore[index]
    assert [line["text"] for line in lines["en"]] == ["Buses at gate B", "Doors open"]
    # Persian falls back to the edition's language where there is no Persian text.
    assert [line["text"] for line in lines["fa"]] == ["Buses at gate B", "درها باز"]
    services.withdraw_announcement(announcement=older)
    lines = selectors.snapshot(year=edition.year)["announcements"]  # type: ignore[index]
    assert [line["text"] for line in lines["en"]] == ["Buses at gate B"]
