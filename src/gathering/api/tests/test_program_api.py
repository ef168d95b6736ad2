"""The read-only program API: editions, sessions, speakers and the whole program."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from gathering.program.models import Edition, Session, Speaker
from gathering.program.tests.factories import (
    PARIS,
    EditionFactory,
    RoomFactory,
    SessionFactory,
    SpeakerFactory,
    TrackFactory,
    add_speaker,
    texts,
)

pytestmark = pytest.mark.django_db

HOSTILE = "<script>alert(1)</script> \x00\x1b[31m \u202eevil"
LONG = "y" * 10_000


@pytest.fixture
def program() -> dict[str, Any]:
    edition = EditionFactory(year=2031, default_language="en")
    EditionFactory(year=2024, status=Edition.Status.PAST, default_language="fa")
    main = RoomFactory(edition=edition, slug="main", position=0)
    side = RoomFactory(edition=edition, slug="side", position=1)
    track = TrackFactory(edition=edition, slug="politics")
    opening = SessionFactory(
        edition=edition,
        title=texts("Opening", "گشایش", "Ouverture"),
        kind=Session.Kind.PLENARY,
        room=main,
        track=track,
        start=dt.datetime(2031, 6, 29, 10, 0, tzinfo=PARIS),
        end=dt.datetime(2031, 6, 29, 11, 30, tzinfo=PARIS),
        floor_language="fa",
        interpretation_languages=["en", "fr"],
    )
    panel = SessionFactory(
        edition=edition,
        title=texts("Panel"),
        kind=Session.Kind.PANEL,
        room=side,
        start=dt.datetime(2031, 6, 30, 15, 0, tzinfo=PARIS),
        end=dt.datetime(2031, 6, 30, 16, 0, tzinfo=PARIS),
        floor_language="en",
        interpretation_languages=["fa"],
    )
    roomless = SessionFactory(
        edition=edition,
        title=texts("In the square"),
        kind=Session.Kind.PERFORMANCE,
        room=None,
        track=None,
        start=dt.datetime(2031, 6, 30, 20, 0, tzinfo=PARIS),
        end=dt.datetime(2031, 6, 30, 21, 0, tzinfo=PARIS),
        floor_language="fr",
        interpretation_languages=[],
    )
    maryam = SpeakerFactory(slug="maryam", name=texts("Maryam Example", "مریم نمونه"))
    second = SpeakerFactory(slug="second", name=texts("Second Speaker"))
    hidden = SpeakerFactory(slug="hidden", name=texts("Hidden Person"), is_public=False)
    add_speaker(opening, second, position=1)
    add_speaker(opening, maryam, position=0)
    add_speaker(opening, hidden, position=2)
    add_speaker(panel, maryam)
    add_speaker(roomless, hidden)
    return {"edition": edition, "sessions": (opening, panel, roomless), "track": track}


def _assert_json_error(response: Any, status: int | tuple[int, ...]) -> Any:
    statuses = status if isinstance(status, tuple) else (status,)
    assert response.status_code in statuses, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["detail"]
    return body["detail"]


# --- docs and OpenAPI --------------------------------------------------------------------


def test_docs_page_loads_its_assets_from_our_own_static_files(client: Client) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets)
    assert assets
    assert all(asset.startswith("/static/") for asset in assets), assets
    assert "cdn" not in html.lower()
    settings = json.loads(re.search(r'id="swagger-settings">(.*?)</script>', html, re.S).group(1))
    assert settings["validatorUrl"] is None  # no badge fetched from validator.swagger.io
    for asset in assets:  # and they are really there ("ninja" is an installed app)
        served = client.get(asset)
        assert served.status_code == 200, asset
        served.close()


def test_openapi_document_is_json_and_lists_the_endpoints(client: Client) -> None:
    response = client.get("/api/openapi.json")
    assert response.status_code == 200
    document = json.loads(response.content)
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    for path in [
        "/api/editions",
        "/api/editions/{year}",
        "/api/editions/{year}/sessions",
        "/api/editions/{year}/speakers",
        "/api/editions/{year}/program",
        "/api/speakers/{slug}",
    ]:
        assert "get" in paths[path], path
    parameters = {p["name"] for p in paths["/api/editions/{year}/sessions"]["get"]["parameters"]}
    assert {"limit", "offset", "day", "track", "room", "language", "kind", "lang"} <= parameters


# --- editions ----------------------------------------------------------------------------


def test_editions_list_latest_first_in_one_query(
    client: Client, program: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(1):
        response = client.get("/api/editions")
    assert response.status_code == 200
    editions = response.json()
    assert [edition["year"] for edition in editions] == [2031, 2024]
    latest = editions[0]
    assert latest["title"] == "Gathering 2031"
    assert latest["title_i18n"] == {
        "en": "Gathering 2031",
        "fa": "گردهمایی 2031",
        "fr": "Rassemblement 2031",
    }
    assert latest["venue"]["name"] == "Exhibition centre"
    assert latest["venue"]["latitude"] == pytest.approx(48.9724)
    assert latest["start_date"] == "2031-06-29"
    assert latest["status"] == "planned"
    assert latest["links"]["sessions"] == "http://testserver/api/editions/2031/sessions"
    assert latest["links"]["web"] == "http://testserver/en/2031/"
    assert latest["links"]["schedule_json"] == "http://testserver/export/2031/schedule.json"
    # Without ?lang=, each edition speaks its own default language.
    assert editions[1]["title"] == "گردهمایی 2024"


def test_edition_detail_in_the_language_asked_for(client: Client, program: dict[str, Any]) -> None:
    edition = client.get("/api/editions/2031", {"lang": "fr"}).json()
    assert edition["title"] == "Rassemblement 2031"
    assert edition["venue"]["name"] == "Parc des expositions"
    assert edition["links"]["web"] == "http://testserver/fr/2031/"
    assert edition["links"]["ical"] == "http://testserver/export/2031/schedule.ics?lang=fr"


@pytest.mark.parametrize("year", ["1999", "99999999999999999999999"])
def test_unknown_year_is_a_json_404(client: Client, program: dict[str, Any], year: str) -> None:
    for suffix in ["", "/sessions", "/speakers", "/program"]:
        detail = _assert_json_error(client.get(f"/api/editions/{year}{suffix}"), 404)
        assert "no edition" in detail


def test_non_numeric_year_is_a_json_400(client: Client, program: dict[str, Any]) -> None:
    _assert_json_error(client.get("/api/editions/abc"), 400)
    _assert_json_error(client.get("/api/editions/%3Cscript%3E/sessions"), 400)


@pytest.mark.parametrize("lang", ["de", "xx", "<script>", "fa\u202e", "q" * 10_000])
def test_unknown_language_is_a_json_400(client: Client, program: dict[str, Any], lang: str) -> None:
    for url in [
        "/api/editions",
        "/api/editions/2031",
        "/api/editions/2031/sessions",
        "/api/editions/2031/speakers",
        "/api/editions/2031/program",
        "/api/speakers/maryam",
    ]:
        detail = _assert_json_error(client.get(url, {"lang": lang}), 400)
        assert detail == "Unknown language: use one of en, fa, fr."


# --- sessions ----------------------------------------------------------------------------


def test_sessions_in_time_order_with_public_speakers_and_local_times(
    client: Client, program: dict[str, Any]
) -> None:
    opening, panel, roomless = program["sessions"]
    page = client.get("/api/editions/2031/sessions").json()
    assert page["count"] == 3
    assert [item["id"] for item in page["items"]] == [opening.pk, panel.pk, roomless.pk]
    first = page["items"][0]
    assert first["start"] == "2031-06-29T10:00:00+02:00"
    assert dt.datetime.fromisoformat(first["end"]) == dt.datetime(2031, 6, 29, 9, 30, tzinfo=dt.UTC)
    assert first["duration_minutes"] == 90
    assert first["room"]["slug"] == "main"
    assert first["track"]["slug"] == "politics"
    assert first["kind"] == "plenary"
    assert first["kind_label"] == "Plenary"
    assert [speaker["slug"] for speaker in first["speakers"]] == ["maryam", "second"]
    assert first["links"]["web"] == f"http://testserver/en/2031/sessions/{opening.pk}/"
    last = page["items"][2]
    assert last["room"] is None
    assert last["track"] is None
    assert last["speakers"] == []
    assert "Hidden Person" not in json.dumps(page, ensure_ascii=False)


def test_sessions_in_persian(client: Client, program: dict[str, Any]) -> None:
    first = client.get("/api/editions/2031/sessions", {"lang": "fa"}).json()["items"][0]
    assert first["title"] == "گشایش"
    assert first["title_i18n"]["en"] == "Opening"
    assert first["speakers"][0]["name"] == "مریم نمونه"
    assert first["links"]["web"].startswith("http://testserver/fa/")


def test_sessions_paginate_with_limit_and_offset(client: Client, program: dict[str, Any]) -> None:
    _opening, panel, roomless = program["sessions"]
    page = client.get("/api/editions/2031/sessions", {"limit": 2, "offset": 1}).json()
    assert page["count"] == 3
    assert [item["id"] for item in page["items"]] == [panel.pk, roomless.pk]
    beyond = client.get("/api/editions/2031/sessions", {"offset": 500}).json()
    assert beyond == {"items": [], "count": 3}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"day": "2031-06-30"}, [1, 2]),
        ({"track": "politics"}, [0]),
        ({"room": "side"}, [1]),
        ({"kind": "performance"}, [2]),
        ({"language": "fa"}, [0, 1]),  # floor or interpretation language
        ({"language": "fr", "day": "2031-06-29"}, [0]),
        ({"day": "", "track": ""}, [0, 1, 2]),  # empty means "all", as on the program page
    ],
)
def test_sessions_filter_like_the_program_page(
    client: Client, program: dict[str, Any], query: dict[str, str], expected: list[int]
) -> None:
    sessions = program["sessions"]
    items = client.get("/api/editions/2031/sessions", query).json()["items"]
    assert [item["id"] for item in items] == [sessions[index].pk for index in expected]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"limit": "-1"}, 400),
        ({"limit": "0"}, 400),
        ({"limit": "abc"}, 400),
        ({"limit": "201"}, 400),
        ({"limit": "9" * 40}, 400),
        ({"offset": "-1"}, 400),
        ({"offset": "9" * 40}, 400),
        ({"offset": "1e3"}, 400),
        ({"day": "2026-13-45"}, 400),
        ({"day": "2031-07-15"}, 400),  # not a day of the edition
        ({"day": "yesterday"}, 400),
        ({"track": "nope"}, 400),
        ({"room": "<script>alert(1)</script>"}, 400),
        ({"kind": "keynote"}, 400),
        ({"language": "\u202efa"}, 400),
        ({"track": LONG}, 400),
        ({"day": LONG}, 400),
        ({"track": ["politics", "politics"]}, 400),  # given twice
    ],
)
def test_malformed_session_queries_are_clear_json_errors(
    client: Client, program: dict[str, Any], query: dict[str, Any], status: int
) -> None:
    _assert_json_error(client.get("/api/editions/2031/sessions", query), status)


def test_session_list_query_count_does_not_grow_with_sessions(
    client: Client, program: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    edition = program["edition"]
    room = RoomFactory(edition=edition, slug="extra")
    for hour in range(8, 18):
        session = SessionFactory(
            edition=edition,
            room=room,
            track=program["track"],
            start=dt.datetime(2031, 6, 29, hour, 0, tzinfo=PARIS),
            end=dt.datetime(2031, 6, 29, hour, 45, tzinfo=PARIS),
        )
        add_speaker(session, SpeakerFactory())
        add_speaker(session, SpeakerFactory(), position=1)
    # edition, the filter form's tracks, rooms and languages, count, page, speakers
    with django_assert_max_num_queries(7):
        response = client.get("/api/editions/2031/sessions", {"limit": 200, "track": "politics"})
    assert response.json()["count"] == 11


# --- speakers ----------------------------------------------------------------------------


def test_edition_speakers_are_public_only_and_paginated(
    client: Client, program: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    with django_assert_max_num_queries(3):
        page = client.get("/api/editions/2031/speakers").json()
    assert page["count"] == 2
    assert [speaker["slug"] for speaker in page["items"]] == ["maryam", "second"]
    assert page["items"][0]["links"]["api"] == "http://testserver/api/speakers/maryam"
    second_page = client.get("/api/editions/2031/speakers", {"limit": 1, "offset": 1}).json()
    assert [speaker["slug"] for speaker in second_page["items"]] == ["second"]
    _assert_json_error(client.get("/api/editions/2031/speakers", {"limit": "x"}), 400)


def test_speaker_detail_lists_sessions_of_every_edition(
    client: Client, program: dict[str, Any]
) -> None:
    earlier = SessionFactory(edition=Edition.objects.get(year=2024), title=texts("Earlier"))
    add_speaker(earlier, Speaker.objects.get(slug="maryam"))
    speaker = client.get("/api/speakers/maryam").json()
    assert speaker["name"] == "Maryam Example"
    assert [(s["year"], s["title"]) for s in speaker["sessions"]] == [
        (2031, "Opening"),
        (2031, "Panel"),
        (2024, "Earlier"),
    ]
    opening = speaker["sessions"][0]
    assert [s["slug"] for s in opening["speakers"]] == ["maryam", "second"]


@pytest.mark.parametrize("slug", ["hidden", "nobody", "%3Cscript%3E", "a" * 500])
def test_hidden_or_unknown_speaker_is_a_json_404(
    client: Client, program: dict[str, Any], slug: str
) -> None:
    detail = _assert_json_error(client.get(f"/api/speakers/{slug}"), 404)
    assert detail == "There is no such speaker."


# --- the whole program -------------------------------------------------------------------


def test_program_document_with_strong_etag_and_304(
    client: Client, program: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    response = client.get("/api/editions/2031/program")
    assert response.status_code == 200
    etag = response["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    document = response.json()
    assert document["lang"] == "en"
    assert document["days"] == ["2031-06-29", "2031-06-30"]
    assert [room["slug"] for room in document["rooms"]] == ["main", "side"]
    assert len(document["sessions"]) == 3
    assert [speaker["slug"] for speaker in document["speakers"]] == ["maryam", "second"]
    assert "Hidden Person" not in response.content.decode()

    with django_assert_max_num_queries(1):  # the program's cache version
        again = client.get("/api/editions/2031/program", headers={"if-none-match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again["ETag"] == etag
    for header in [f"W/{etag}", f'"other", {etag}', "*"]:
        assert (
            client.get("/api/editions/2031/program", headers={"if-none-match": header}).status_code
            == 304
        )
    for header in ['"other"', "garbage", "W/", LONG]:
        stale = client.get("/api/editions/2031/program", headers={"if-none-match": header})
        assert stale.status_code == 200
        assert stale.content == response.content


def test_program_etag_changes_with_the_program_and_the_language(
    client: Client, program: dict[str, Any]
) -> None:
    etag = client.get("/api/editions/2031/program")["ETag"]
    persian = client.get("/api/editions/2031/program", {"lang": "fa"})
    assert persian.json()["lang"] == "fa"
    assert persian["ETag"] != etag
    opening = program["sessions"][0]
    opening.title = texts("Opening, moved")
    opening.save()
    changed = client.get("/api/editions/2031/program", headers={"if-none-match": etag})
    assert changed.status_code == 200
    assert changed["ETag"] != etag
    assert "Opening, moved" in {s["title"] for s in changed.json()["sessions"]}


# --- hostile data ------------------------------------------------------------------------


def test_hostile_texts_come_back_as_data_without_control_characters(
    client: Client, program: dict[str, Any]
) -> None:
    opening = program["sessions"][0]
    # PostgreSQL's jsonb cannot hold U+0000 at all; SQLite can, so the API must cope there.
    hostile = HOSTILE.replace("\x00", "") if connection.vendor == "postgresql" else HOSTILE
    Session.objects.filter(pk=opening.pk).update(title={"en": hostile, "fa": LONG})
    items = client.get("/api/editions/2031/sessions").json()["items"]
    first = next(item for item in items if item["id"] == opening.pk)
    assert first["title"] == "<script>alert(1)</script> [31m \u202eevil"
    assert first["title_i18n"]["fa"] == LONG
    document = client.get("/api/editions/2031/program", {"lang": "fa"}).json()
    assert LONG in {session["title"] for session in document["sessions"]}


def test_a_malformed_parameter_is_named_in_the_400(client: Client, program: dict[str, Any]) -> None:
    response = client.get("/api/editions/2031/sessions", {"limit": "-1"})
    assert response.status_code == 400
    assert response.json()["detail"] == "Invalid parameter: limit."


def test_openapi_document_is_built_once_per_process(client: Client) -> None:
    from gathering.api.api import api

    first = client.get("/api/openapi.json")
    second = client.get("/api/openapi.json")
    assert first.status_code == second.status_code == 200
    assert first.content == second.content
    # The same document object each time: built on the first request only.
    assert api.get_openapi_schema() is api.get_openapi_schema()
