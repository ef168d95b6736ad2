from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from freezegun import freeze_time

from gathering.program import selectors
from gathering.program.models import Edition
from gathering.program.selectors import SessionFilters
from gathering.program.tests.factories import (
    EditionFactory,
    SessionFactory,
    SpeakerFactory,
    TrackFactory,
    add_speaker,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
TEHRAN = zoneinfo.ZoneInfo("Asia/Tehran")


def at(edition: Edition, day: int, hour: int, minute: int = 0) -> dt.datetime:
    """A moment on the ``day``-th day (0-based) of ``edition``, in its time zone."""
    date = edition.start_date + dt.timedelta(days=day)
    return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=edition.tzinfo)


def test_program_days_group_sessions_by_day_in_the_edition_time_zone() -> None:
    edition = EditionFactory(year=2030, timezone="Asia/Tehran")
    # 21:00 UTC on the first day is already the second day in Tehran (UTC+3:30).
    late = SessionFactory(
        edition=edition,
        start=dt.datetime(2030, 6, 29, 21, 0, tzinfo=UTC),
        end=dt.datetime(2030, 6, 29, 22, 0, tzinfo=UTC),
    )
    early = SessionFactory(edition=edition, start=at(edition, 0, 9), end=at(edition, 0, 10))
    days = selectors.list_program_days(edition=edition)
    assert [day.day for day in days] == [dt.date(2030, 6, 29), dt.date(2030, 6, 30)]
    assert days[0].sessions == [early]
    assert days[1].sessions == [late]


def test_program_days_leave_out_days_without_a_matching_session() -> None:
    edition = EditionFactory(year=2030)
    track = TrackFactory(edition=edition, slug="human-rights")
    SessionFactory(edition=edition, start=at(edition, 0, 9), end=at(edition, 0, 10))
    kept = SessionFactory(
        edition=edition, track=track, start=at(edition, 1, 9), end=at(edition, 1, 10)
    )
    days = selectors.list_program_days(
        edition=edition, filters=SessionFilters(track="human-rights")
    )
    assert [(day.day, day.sessions) for day in days] == [(dt.date(2030, 6, 30), [kept])]


def test_program_days_filter_by_language_matches_floor_or_interpretation() -> None:
    edition = EditionFactory(year=2030)
    on_floor = SessionFactory(edition=edition, floor_language="ar", interpretation_languages=[])
    interpreted = SessionFactory(
        edition=edition,
        floor_language="fa",
        interpretation_languages=["en", "ar"],
        start=at(edition, 0, 16),
        end=at(edition, 0, 17),
    )
    SessionFactory(edition=edition, floor_language="fa", interpretation_languages=["en"])
    days = selectors.list_program_days(edition=edition, filters=SessionFilters(language="ar"))
    assert [session for day in days for session in day.sessions] == [on_floor, interpreted]


def test_session_languages_are_every_floor_and_interpretation_code_once() -> None:
    edition = EditionFactory(year=2030)
    SessionFactory(edition=edition, floor_language="fa", interpretation_languages=["en", "fr"])
    SessionFactory(edition=edition, floor_language="ar", interpretation_languages=["en", ""])
    SessionFactory(edition=EditionFactory(year=2031), floor_language="de")
    assert selectors.list_session_languages(edition=edition) == ["ar", "en", "fa", "fr"]


def test_sessions_on_now_are_those_started_and_not_ended() -> None:
    edition = EditionFactory(year=2030)
    running = SessionFactory(edition=edition, start=at(edition, 0, 9), end=at(edition, 0, 10))
    SessionFactory(edition=edition, start=at(edition, 0, 10), end=at(edition, 0, 11))
    SessionFactory(edition=edition, start=at(edition, 0, 8), end=at(edition, 0, 9, 30))
    assert list(selectors.list_sessions_on_now(edition=edition, at=at(edition, 0, 9, 30))) == [
        running
    ]


def test_next_sessions_are_the_first_ones_to_start_after_the_moment() -> None:
    edition = EditionFactory(year=2030)
    sessions = [
        SessionFactory(edition=edition, start=at(edition, 0, hour), end=at(edition, 0, hour, 45))
        for hour in (9, 10, 11, 12, 13)
    ]
    assert (
        selectors.list_next_sessions(edition=edition, at=at(edition, 0, 9, 30), limit=2)
        == (sessions[1:3])
    )


def test_days_to_start_count_from_today_in_the_edition_time_zone() -> None:
    edition = EditionFactory(year=2030, timezone="Asia/Tehran")  # starts 2030-06-29
    # 22:00 UTC on 27 June is already 28 June in Tehran: one day to go, not two.
    with freeze_time(dt.datetime(2030, 6, 27, 22, 0, tzinfo=UTC)):
        assert selectors.count_days_to_start(edition=edition) == 1
    with freeze_time(dt.datetime(2030, 6, 30, 12, 0, tzinfo=UTC)):
        assert selectors.count_days_to_start(edition=edition) == -1


def test_sessions_list_only_public_speakers_in_their_order() -> None:
    edition = EditionFactory(year=2030)
    session = SessionFactory(edition=edition)
    second, hidden, first = SpeakerFactory(), SpeakerFactory(is_public=False), SpeakerFactory()
    add_speaker(session, second, position=2)
    add_speaker(session, hidden, position=0)
    add_speaker(session, first, position=1)
    (day,) = selectors.list_program_days(edition=edition)
    assert [link.speaker for link in day.sessions[0].public_speaker_links] == [first, second]
