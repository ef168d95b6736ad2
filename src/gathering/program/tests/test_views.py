from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import translation
from freezegun import freeze_time

from gathering.core.dates import to_persian_digits as fa
from gathering.core.translated import Translated
from gathering.program.models import Edition, Session
from gathering.program.tests.factories import (
    EditionFactory,
    RoomFactory,
    SessionFactory,
    SpeakerFactory,
    TrackFactory,
    add_speaker,
    texts,
)

pytestmark = pytest.mark.django_db

UTC = dt.UTC
SCRIPT = "<script>alert(1)</script>"
RLO = "\u202e"
LONG_WORD = "W" * 10_000


def url(name: str, *args: object, language: str = "en") -> str:
    with translation.override(language):
        return reverse(f"program:{name}", args=args)


def at(edition: Edition, day: int, hour: int, minute: int = 0) -> dt.datetime:
    date = edition.start_date + dt.timedelta(days=day)
    return dt.datetime.combine(date, dt.time(hour, minute), tzinfo=edition.tzinfo)


def html(response) -> str:
    return response.content.decode()


def titles_in(page: str) -> list[str]:
    return re.findall(r'class="session__title"><a href="[^"]+"><bdi[^>]*>([^<]*)</bdi>', page)


@pytest.fixture
def edition() -> Edition:
    return EditionFactory(year=2030)


@pytest.fixture
def program(edition: Edition) -> dict[str, object]:
    """Two days, two tracks, two rooms, sessions in several languages and kinds."""
    rights = TrackFactory(
        edition=edition, slug="human-rights", name=texts("Human rights", "حقوق بشر")
    )
    culture = TrackFactory(edition=edition, slug="culture", name=texts("Culture", "فرهنگ"))
    main = RoomFactory(edition=edition, slug="main-hall", name=texts("Main hall", "سالن اصلی"))
    side = RoomFactory(edition=edition, slug="room-b", name=texts("Room B", "اتاق ب"))
    opening = SessionFactory(
        edition=edition,
        title=texts("Opening", "افتتاحیه"),
        kind=Session.Kind.PLENARY,
        start=at(edition, 0, 10),
        end=at(edition, 0, 11),
        room=main,
        track=rights,
        floor_language="fa",
        interpretation_languages=["en", "fr"],
    )
    concert = SessionFactory(
        edition=edition,
        title=texts("Concert", "کنسرت"),
        kind=Session.Kind.PERFORMANCE,
        start=at(edition, 0, 20),
        end=at(edition, 0, 21, 30),
        room=main,
        track=culture,
        floor_language="fa",
        interpretation_languages=[],
    )
    panel = SessionFactory(
        edition=edition,
        title=texts("Women's panel", "پنل زنان"),
        kind=Session.Kind.PANEL,
        start=at(edition, 1, 9, 30),
        end=at(edition, 1, 10, 45),
        room=side,
        track=rights,
        floor_language="en",
        interpretation_languages=["fa"],
    )
    speaker = SpeakerFactory(slug="jane-doe", name=texts("Jane Doe", "جین دو"))
    hidden = SpeakerFactory(slug="secret-person", name=texts("Secret Person"), is_public=False)
    add_speaker(opening, speaker)
    add_speaker(opening, hidden, position=1)
    return {
        "opening": opening,
        "concert": concert,
        "panel": panel,
        "speaker": speaker,
        "hidden": hidden,
    }


# ---- Home and edition pages ------------------------------------------------------------------


def test_home_without_any_edition_is_a_friendly_page(client: Client) -> None:
    response = client.get(url("home"))
    assert response.status_code == 200
    assert "No edition has been announced yet" in html(response)


@freeze_time("2030-01-01 12:00:00")
def test_home_shows_the_planned_edition_with_a_countdown(client: Client, edition: Edition) -> None:
    page = html(client.get(url("home")))
    assert "Gathering 2030" in page
    assert "In 179 days" in page
    assert '<time datetime="2030-06-29">June 29, 2030</time>' in page
    assert "Villepinte" in page and "Exhibition centre" in page and "1 Example Road" in page
    assert 'latitude <span dir="ltr">48.97240</span>' in page
    assert "Solidarity" in page
    assert "Live now" not in page
    for name in ("session-list", "speaker-list"):
        assert f'href="{url(name, 2030)}"' in page
    assert f'href="{url("archive")}"' in page


def test_edition_page_loads_nothing_from_third_parties(client: Client, edition: Edition) -> None:
    page = html(client.get(url("edition-detail", 2030)))
    # Only our own pages, static files and relative links: no maps, fonts or scripts elsewhere.
    assert not re.search(r'(src|href)="(https?:)?//', page)
    assert "openstreetmap" not in page.lower() and "google" not in page.lower()


@freeze_time("2030-01-01 12:00:00")
def test_home_in_persian_shows_the_solar_hijri_date_and_persian_digits(
    client: Client, edition: Edition
) -> None:
    page = html(client.get(url("home", language="fa")))
    assert '<html lang="fa" dir="rtl">' in page
    assert "گردهمایی 2030" in page  # the title as the organiser wrote it
    assert "۸ تیر ۱۴۰۹" in page  # 29 June 2030
    assert fa("179") in page.split('class="countdown"')[1].split("</p>")[0]
    assert f'<span dir="ltr">{fa("48.97240")}</span>' in page


def test_home_picks_the_live_edition_and_shows_what_is_on_now(client: Client) -> None:
    EditionFactory(year=2029, status=Edition.Status.PAST)
    EditionFactory(year=2031, status=Edition.Status.PLANNED)
    live = EditionFactory(year=2030, status=Edition.Status.LIVE)
    running = SessionFactory(
        edition=live, title=texts("Running now"), start=at(live, 0, 10), end=at(live, 0, 11)
    )
    SessionFactory(
        edition=live, title=texts("Later today"), start=at(live, 0, 15), end=at(live, 0, 16)
    )
    SessionFactory(
        edition=live, title=texts("Already over"), start=at(live, 0, 8), end=at(live, 0, 9)
    )
    with freeze_time(at(live, 0, 10, 30)):
        page = html(client.get(url("home")))
    assert "Gathering 2030" in page
    assert "badge--live" in page and "Live now" in page
    on_now = page.split('id="on-now-title"')[1]
    assert titles_in(on_now) == ["Running now", "Later today"]
    assert url("session-detail", 2030, running.pk) in on_now
    assert "Already over" not in page
    assert "countdown" not in page


def test_past_edition_page_has_no_countdown_and_says_it_is_past(client: Client) -> None:
    EditionFactory(year=2018, status=Edition.Status.PAST)
    page = html(client.get(url("edition-detail", 2018)))
    assert "Past edition" in page
    assert "countdown" not in page


def test_unknown_year_is_a_404_in_the_visitor_language(client: Client, edition: Edition) -> None:
    response = client.get(url("edition-detail", 1999, language="fa"))
    assert response.status_code == 404
    assert '<html lang="fa" dir="rtl">' in html(response)
    for name in ("session-list", "speaker-list"):
        assert client.get(url(name, 1999)).status_code == 404


def test_archive_lists_past_editions_newest_first(client: Client) -> None:
    EditionFactory(
        year=2018, status=Edition.Status.PAST, city=texts("Villepinte"), focus=texts("Free Iran")
    )
    EditionFactory(year=2019, status=Edition.Status.PAST, city=texts("Ashraf-3, Albania"))
    EditionFactory(year=2030, status=Edition.Status.PLANNED)
    page = html(client.get(url("archive")))
    assert page.index("2019") < page.index("2018")
    assert "Ashraf-3, Albania" in page and "Free Iran" in page
    assert url("edition-detail", 2018) in page
    assert url("edition-detail", 2030) not in page


def test_archive_without_past_editions_says_so(client: Client) -> None:
    assert "There is no past edition yet" in html(client.get(url("archive")))


# ---- The program -------------------------------------------------------------------------------


def test_program_lists_sessions_by_day_in_time_order(
    client: Client, edition: Edition, program: dict
) -> None:
    page = html(client.get(url("session-list", 2030)))
    first_day, second_day = page.split('class="program-day"')[1:3]
    assert titles_in(first_day) == ["Opening", "Concert"]
    assert titles_in(second_day) == ["Women&#x27;s panel"]
    assert "Saturday" in first_day and "Sunday" in second_day
    assert '<time datetime="2030-06-29T10:00:00+02:00">10:00</time>' in first_day
    assert "Main hall" in first_day and "Human rights" in first_day and "Plenary" in first_day
    assert "In Persian, interpreted into English, French" in first_day
    assert "3 sessions" in page


def test_program_times_are_in_the_edition_time_zone(client: Client) -> None:
    edition = EditionFactory(year=2030, timezone="Asia/Tehran")
    SessionFactory(
        edition=edition,
        start=dt.datetime(2030, 6, 29, 6, 0, tzinfo=UTC),
        end=dt.datetime(2030, 6, 29, 7, 0, tzinfo=UTC),
    )
    page = html(client.get(url("session-list", 2030)))
    assert ">09:30</time>\N{EN DASH}<time" in page  # UTC+3:30, not the server's Paris time
    assert "Asia/Tehran" in page


def test_program_lists_speakers_in_order_and_never_a_hidden_one(
    client: Client, edition: Edition, program: dict
) -> None:
    page = html(client.get(url("session-list", 2030)))
    assert "Jane Doe" in page
    assert url("speaker-detail", "jane-doe") in page
    assert "Secret Person" not in page and "secret-person" not in page


def test_program_links_to_every_export_and_the_api(client: Client, edition: Edition) -> None:
    page = html(client.get(url("session-list", 2030)))
    for href in (
        "/export/2030/schedule.ics",
        "/export/2030/schedule.xml",
        "/export/2030/schedule.json",
        "/api/docs",
    ):
        assert f'href="{href}"' in page


def test_empty_program_says_it_is_not_published(client: Client, edition: Edition) -> None:
    page = html(client.get(url("session-list", 2030)))
    assert "The program has not been published yet." in page
    assert "0 sessions" in page


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"track": "human-rights"}, ["Opening", "Women&#x27;s panel"]),
        ({"room": "main-hall"}, ["Opening", "Concert"]),
        ({"language": "fr"}, ["Opening"]),  # an interpretation channel
        ({"language": "en"}, ["Opening", "Women&#x27;s panel"]),  # floor or interpretation
        ({"kind": "performance"}, ["Concert"]),
        ({"day": "2030-06-30"}, ["Women&#x27;s panel"]),
        ({"day": "2030-06-29", "track": "human-rights"}, ["Opening"]),
        (
            {"day": "", "track": "", "room": "", "language": "", "kind": ""},
            ["Opening", "Concert", "Women&#x27;s panel"],
        ),
    ],
)
def test_program_filters(
    client: Client, edition: Edition, program: dict, query: dict[str, str], expected: list[str]
) -> None:
    response = client.get(url("session-list", 2030), query)
    assert response.status_code == 200
    assert titles_in(html(response)) == expected


def test_filters_that_match_nothing_offer_the_whole_program(
    client: Client, edition: Edition, program: dict
) -> None:
    page = html(client.get(url("session-list", 2030), {"kind": "break"}))
    assert "No session matches these filters." in page
    assert f'href="{url("session-list", 2030)}">Show the whole program' in page


def test_filter_form_is_labelled_and_keeps_the_current_values(
    client: Client, edition: Edition, program: dict
) -> None:
    page = html(client.get(url("session-list", 2030), {"track": "culture", "day": "2030-06-29"}))
    form = page.split('<form class="program-filters"')[1].split("</form>")[0]
    assert 'method="get"' in page.split('<form class="program-filters"')[1][:80]
    for name in ("day", "track", "room", "language", "kind"):
        assert f'<label for="id_{name}">' in form
        assert f'name="{name}" id="id_{name}"' in form
    assert '<option value="culture" selected>Culture</option>' in form
    assert '<option value="2030-06-29" selected>Saturday 29 June</option>' in form
    assert '<button type="submit">' in form
    assert "Clear the filters" in form


def test_language_filter_offers_every_language_spoken_in_the_edition(
    client: Client, edition: Edition
) -> None:
    SessionFactory(edition=edition, floor_language="ar", interpretation_languages=["ku"])
    page = html(client.get(url("session-list", 2030)))
    for code, name in (("ar", "Arabic"), ("en", "English"), ("fa", "Persian"), ("fr", "French")):
        assert f'<option value="{code}">{name}</option>' in page
    assert '<option value="ku">' in page


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("track=no-such-track", "This edition has no such track."),
        ("track=human-rights&track=culture", "Give the filter “Track” only once."),
        ("room=nowhere", "This edition has no such room."),
        ("kind=party", "Unknown kind of session."),
        ("language=xx", "Unknown language code."),
        ("day=2030-13-01", "Give the day as year-month-day"),
        ("day=tomorrow", "Give the day as year-month-day"),
        ("day=20300629", "Give the day as year-month-day"),
        ("day=2030-07-01", "This day is not one of the edition&#x27;s days."),
        ("day=2030-06-29&day=2030-06-30", "Give the filter “Day” only once."),
        (f"track={'x' * 10_000}", "The value of the filter “Track” is too long."),
        ("track=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "This edition has no such track."),
        ("track=%E2%80%AEevil", "This edition has no such track."),
        ("kind=%00", "Kind of session:"),
    ],
)
def test_invalid_filter_is_a_400_that_says_what_is_wrong(
    client: Client, edition: Edition, program: dict, query: str, message: str
) -> None:
    response = client.get(f"{url('session-list', 2030)}?{query}")
    assert response.status_code == 400
    page = html(response)
    assert message in page
    assert "<script>alert" not in page
    main = page.split("<main")[1].split("</main>")[0]
    assert "x" * 200 not in main  # the message does not echo the value back


def test_invalid_filter_page_is_in_the_visitor_language(client: Client, edition: Edition) -> None:
    response = client.get(f"{url('session-list', 2030, language='fa')}?kind=party")
    assert response.status_code == 400
    assert '<html lang="fa" dir="rtl">' in html(response)


def test_program_query_count_does_not_grow_with_sessions(
    client: Client, edition: Edition, django_assert_max_num_queries
) -> None:
    track = TrackFactory(edition=edition)
    room = RoomFactory(edition=edition)

    def add_sessions(count: int) -> None:
        for index in range(count):
            session = SessionFactory(
                edition=edition,
                track=track,
                room=room,
                start=at(edition, index % 2, 9 + index % 10),
                end=at(edition, index % 2, 10 + index % 10),
            )
            add_speaker(session, SpeakerFactory())
            add_speaker(session, SpeakerFactory(), position=1)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url("session-list", 2030), {"track": track.slug}).status_code == 200
        return len(queries)

    add_sessions(1)
    few = count_queries()
    add_sessions(30)  # each write bumps the cache version: the next request renders anew
    with django_assert_max_num_queries(10):
        many = count_queries()
    assert many == few


def test_anonymous_pages_are_cached_until_the_program_changes(
    client: Client, edition: Edition, program: dict, django_assert_num_queries
) -> None:
    assert "Opening" in html(client.get(url("session-list", 2030)))
    with django_assert_num_queries(1):  # only the cache version
        assert "Opening" in html(client.get(url("session-list", 2030)))
    opening = program["opening"]
    opening.title = texts("Grand opening")
    opening.save()
    assert "Grand opening" in html(client.get(url("session-list", 2030)))


# ---- Sessions ---------------------------------------------------------------------------------


def test_session_page_shows_everything_about_the_session(
    client: Client, edition: Edition, program: dict
) -> None:
    opening = program["opening"]
    opening.stream_url = "https://stream.example.org/main"
    opening.abstract = texts("Welcome to all.\n\nSecond paragraph.")
    opening.save()
    page = html(client.get(url("session-detail", 2030, opening.pk)))
    assert '<h1 id="session-title"><bdi>Opening</bdi></h1>' in page
    assert "Plenary" in page and "Main hall" in page and "Human rights" in page
    assert '<time datetime="2030-06-29T10:00:00+02:00">10:00</time>' in page
    assert "Persian" in page and "English, French" in page
    assert "<p>Welcome to all.</p>" in page and "<p>Second paragraph.</p>" in page
    assert "Jane Doe" in page and "Secret Person" not in page
    assert 'href="https://stream.example.org/main"' in page
    assert f'href="/export/2030/sessions/{opening.pk}.ics"' in page


def test_session_stream_link_is_only_ever_http(client: Client, edition: Edition) -> None:
    session = SessionFactory(edition=edition, stream_url="javascript:alert(1)")
    page = html(client.get(url("session-detail", 2030, session.pk)))
    assert "javascript:" not in page
    assert "Watch the stream" not in page


def test_session_of_another_year_or_unknown_is_a_404(client: Client, edition: Edition) -> None:
    other = SessionFactory(edition=EditionFactory(year=2031))
    assert client.get(url("session-detail", 2030, other.pk)).status_code == 404
    assert client.get(url("session-detail", 2030, 999_999)).status_code == 404
    assert client.get(url("session-detail", 2031, other.pk)).status_code == 200


# ---- Speakers ---------------------------------------------------------------------------------


def test_speaker_list_shows_only_public_speakers_of_the_edition(
    client: Client, edition: Edition, program: dict
) -> None:
    elsewhere = SpeakerFactory(slug="other-year", name=texts("Other Year"))
    add_speaker(SessionFactory(edition=EditionFactory(year=2031)), elsewhere)
    page = html(client.get(url("speaker-list", 2030)))
    assert "Jane Doe" in page and "Member of parliament" in page
    assert "Secret Person" not in page and "Other Year" not in page
    assert "1 speaker" in page


def test_speaker_page_lists_sessions_across_editions(
    client: Client, edition: Edition, program: dict
) -> None:
    speaker = program["speaker"]
    earlier = EditionFactory(year=2018, status=Edition.Status.PAST)
    add_speaker(SessionFactory(edition=earlier, title=texts("Back in 2018")), speaker)
    page = html(client.get(url("speaker-detail", "jane-doe")))
    assert '<h1 id="speaker-name"><bdi>Jane Doe</bdi></h1>' in page
    assert page.index("Opening") < page.index("Back in 2018")  # newest edition first
    assert url("session-detail", 2030, program["opening"].pk) in page
    assert url("edition-detail", 2018) in page
    assert '<time datetime="2018-06-29">June 29, 2018</time>' in page
    assert 'href="/export/speakers/jane-doe.ics"' in page


def test_speaker_photo_is_shown_when_there_is_one(
    client: Client, edition: Edition, program: dict
) -> None:
    speaker = program["speaker"]
    speaker.photo.name = "speakers/jane.jpg"
    speaker.save()
    assert 'src="/media/speakers/jane.jpg"' in html(client.get(url("speaker-detail", "jane-doe")))
    assert 'src="/media/speakers/jane.jpg"' in html(client.get(url("speaker-list", 2030)))


def test_hidden_or_unknown_speaker_is_a_404(
    client: Client, edition: Edition, program: dict
) -> None:
    assert client.get(url("speaker-detail", "secret-person")).status_code == 404
    assert client.get(url("speaker-detail", "nobody")).status_code == 404


# ---- Languages, fallbacks and hostile text ---------------------------------------------------


def test_program_in_persian_uses_persian_digits_and_dates(
    client: Client, edition: Edition, program: dict
) -> None:
    page = html(client.get(url("session-list", 2030, language="fa")))
    assert '<html lang="fa" dir="rtl">' in page
    assert f">{fa('10:00')}</time>" in page and f">{fa('11:00')}</time>" in page
    assert "۸ تیر ۱۴۰۹" in page and "۹ تیر ۱۴۰۹" in page
    assert "افتتاحیه" in page and "حقوق بشر" in page
    assert fa("3") in page.split('class="program-count"')[1].split("</p>")[0]


def test_missing_text_falls_back_to_the_edition_language_and_says_so(client: Client) -> None:
    edition = EditionFactory(year=2030, default_language="fr")
    SessionFactory(edition=edition, title=Translated({"en": "English title", "fr": "Titre"}))
    SessionFactory(
        edition=edition,
        title=Translated({"fa": "فقط فارسی"}),
        start=at(edition, 0, 18),
        end=at(edition, 0, 19),
    )
    page = html(client.get(url("session-list", 2030, language="fa")))
    assert '<bdi lang="fr" dir="ltr">Titre</bdi>' in page
    assert "<bdi>فقط فارسی</bdi>" in page
    page = html(client.get(url("session-list", 2030, language="en")))
    assert '<bdi lang="fa" dir="rtl">فقط فارسی</bdi>' in page


@pytest.mark.parametrize("hostile", [SCRIPT, f"{RLO}evil txt", LONG_WORD])
def test_hostile_text_is_escaped_and_isolated_everywhere(
    client: Client, edition: Edition, hostile: str
) -> None:
    track = TrackFactory(edition=edition, slug="t", name=texts(hostile))
    room = RoomFactory(edition=edition, slug="r", name=texts(hostile))
    session = SessionFactory(
        edition=edition, title=texts(hostile), abstract=texts(hostile), track=track, room=room
    )
    add_speaker(
        session, SpeakerFactory(slug="hostile", name=texts(hostile), biography=texts(hostile))
    )
    edition.title = texts(hostile)
    edition.save()
    pages = [
        url("home"),
        url("session-list", 2030),
        url("session-detail", 2030, session.pk),
        url("speaker-list", 2030),
        url("speaker-detail", "hostile"),
    ]
    for path in pages:
        page = html(client.get(path))
        assert SCRIPT not in page
        if hostile == SCRIPT:
            assert "<bdi>&lt;script&gt;alert(1)&lt;/script&gt;</bdi>" in page
        else:
            assert f"<bdi>{hostile}</bdi>" in page, path


def test_long_words_wrap_on_every_page() -> None:
    css = Path(finders.find("core/site.css")).read_text(encoding="utf-8")
    assert re.search(r"\.site-main \{[^}]*overflow-wrap: anywhere", css)
    assert re.search(r"bdi \{[^}]*overflow-wrap: anywhere", css)


def test_program_pages_only_answer_reads(client: Client, edition: Edition) -> None:
    assert client.post(url("session-list", 2030), {"track": "x"}).status_code == 405
    assert client.head(url("session-list", 2030)).status_code == 200
