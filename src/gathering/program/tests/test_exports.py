"""Exports of the program: iCalendar, frab XML and c3voc JSON, checked against the published
schemas (``../shared/schemas/c3voc/`` beside the project) and parsed back."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from pathlib import Path
from typing import Any

import icalendar
import jsonschema
import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from lxml import etree

from gathering.program.exports.common import GUID_NAMESPACE
from gathering.program.models import Edition, Session
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

# Rendering and formats, not the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = [pytest.mark.django_db, pytest.mark.engine_agnostic]

SCHEMAS = Path(settings.PROJECT_DIR).parent / "shared" / "schemas" / "c3voc"
HOSTILE = '<script>alert(1)</script> \x00bell\x07 esc\x1b[31m \u202eevil\u202c & "q" ]]>'


def _storable(text: str) -> str:
    """``text`` as the database can hold it: PostgreSQL's jsonb refuses U+0000 outright (and
    forms refuse it before that), SQLite keeps it, so the exports must cope there."""
    return text.replace("\x00", "") if connection.vendor == "postgresql" else text


LONG = "x" * 10_000

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})")
_ABSOLUTE_URI = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:[^\s<>\"{}|\\^`\x00-\x1f\x7f]*")


def _schemas() -> Path:
    if not SCHEMAS.is_dir():
        pytest.skip(f"the shared schemas are not beside the project ({SCHEMAS} is missing)")
    return SCHEMAS


def test_missing_schema_folder_skips_with_a_reason(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(f"{__name__}.SCHEMAS", tmp_path / "absent")
    with pytest.raises(pytest.skip.Exception, match="shared schemas are not beside the project"):
        _schemas()


def _format_checker() -> jsonschema.FormatChecker:
    """Every format jsonschema knows, plus strict date-time and uri checks (whose usual
    checkers need optional packages): without them those formats would pass unchecked."""
    checker = jsonschema.FormatChecker()

    @checker.checks("date-time", raises=ValueError)
    def is_date_time(value: object) -> bool:
        if not isinstance(value, str):
            return True
        if not _RFC3339.fullmatch(value):
            return False
        dt.datetime.fromisoformat(value.replace("z", "Z"))
        return True

    @checker.checks("uri")
    def is_uri(value: object) -> bool:
        return not isinstance(value, str) or bool(_ABSOLUTE_URI.fullmatch(value))

    return checker


@pytest.fixture
def json_validator() -> jsonschema.Draft6Validator:
    schema = json.loads((_schemas() / "schema.json").read_text())
    jsonschema.Draft6Validator.check_schema(schema)
    return jsonschema.Draft6Validator(schema, format_checker=_format_checker())


@pytest.fixture
def xml_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(_schemas() / "schedule.xml.xsd")))


def _assert_valid_json(validator: jsonschema.Draft6Validator, document: Any) -> None:
    errors = sorted(validator.iter_errors(document), key=lambda error: list(error.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def _assert_valid_xml(schema: etree.XMLSchema, content: bytes) -> etree._ElementTree:
    tree = etree.fromstring(content).getroottree()
    assert schema.validate(tree), str(schema.error_log)
    return tree


def _calendar(content: bytes) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(content)


@pytest.fixture
def program() -> dict[str, Any]:
    """An edition with two rooms, a track, public and hidden speakers, a session without room
    or track, and a session on the second day."""
    edition = EditionFactory(year=2031, default_language="en")
    main, side = (
        RoomFactory(edition=edition, slug="main", position=0),
        RoomFactory(edition=edition, slug="side", position=1),
    )
    track = TrackFactory(edition=edition, slug="politics", color="#AA3300")
    opening = SessionFactory(
        edition=edition,
        title=texts("Opening", "گشایش", "Ouverture"),
        kind=Session.Kind.PLENARY,
        room=main,
        track=track,
        start=dt.datetime(2031, 6, 29, 10, 0, tzinfo=PARIS),
        end=dt.datetime(2031, 6, 29, 11, 30, tzinfo=PARIS),
        stream_url="https://stream.example.org/main",
    )
    panel = SessionFactory(
        edition=edition,
        title=texts("Panel", "میزگرد", "Table ronde"),
        kind=Session.Kind.PANEL,
        room=side,
        start=dt.datetime(2031, 6, 30, 15, 0, tzinfo=PARIS),
        end=dt.datetime(2031, 6, 30, 16, 0, tzinfo=PARIS),
    )
    roomless = SessionFactory(
        edition=edition,
        title=texts("Gathering in the square"),
        kind=Session.Kind.PERFORMANCE,
        room=None,
        track=None,
        start=dt.datetime(2031, 6, 30, 20, 0, tzinfo=PARIS),
        end=dt.datetime(2031, 6, 30, 21, 0, tzinfo=PARIS),
    )
    maryam = SpeakerFactory(slug="maryam", name=texts("Maryam Example", "مریم نمونه"))
    second = SpeakerFactory(slug="second", name=texts("Second Speaker"))
    hidden = SpeakerFactory(slug="hidden", name=texts("Hidden Person"), is_public=False)
    add_speaker(opening, second, position=1)
    add_speaker(opening, maryam, position=0)
    add_speaker(opening, hidden, position=2)
    add_speaker(panel, maryam)
    add_speaker(roomless, hidden)
    return {
        "edition": edition,
        "rooms": (main, side),
        "track": track,
        "sessions": (opening, panel, roomless),
        "speakers": (maryam, second, hidden),
    }


def _events(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        event
        for day in document["schedule"]["conference"]["days"]
        for events in day["rooms"].values()
        for event in events
    ]


# --- the validators themselves -----------------------------------------------------------


def test_json_validator_accepts_reference_export_and_rejects_invalid_example(
    json_validator: jsonschema.Draft6Validator,
) -> None:
    reference = json.loads((SCHEMAS / "pretalx-democon.json").read_text())
    _assert_valid_json(json_validator, reference)
    invalid = json.loads((SCHEMAS / "invalid-example.json").read_text())
    assert list(json_validator.iter_errors(invalid))


def test_json_format_checker_rejects_bad_dates_uuids_and_uris(
    json_validator: jsonschema.Draft6Validator,
) -> None:
    reference = json.loads((SCHEMAS / "pretalx-democon.json").read_text())
    event = reference["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"][0]
    for key, bad in [("date", "2020-12-14 9am"), ("guid", "not-a-uuid"), ("url", "no scheme")]:
        broken = json.loads(json.dumps(reference))
        broken["schedule"]["conference"]["days"][0]["rooms"]["Gray Room"][0][key] = bad
        assert list(json_validator.iter_errors(broken)), key
    assert event["guid"]


def test_xml_schema_rejects_an_event_without_guid(
    client: Client, program: dict[str, Any], xml_schema: etree.XMLSchema
) -> None:
    content = client.get("/export/2031/schedule.xml").content
    tree = etree.fromstring(content)
    del tree.find("day/room/event").attrib["guid"]
    assert not xml_schema.validate(tree)


# --- c3voc JSON --------------------------------------------------------------------------


def test_schedule_json_is_valid_and_carries_the_program(
    client: Client, program: dict[str, Any], json_validator: jsonschema.Draft6Validator
) -> None:
    response = client.get("/export/2031/schedule.json")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    document = response.json()
    _assert_valid_json(json_validator, document)

    conference = document["schedule"]["conference"]
    assert document["$schema"] == "https://c3voc.de/schedule/schema.json"
    assert document["generator"]["name"] == "Gathering"
    assert "rooms" not in document["schedule"]
    assert conference["acronym"] == "gathering2031"
    assert conference["title"] == "Gathering 2031"
    assert conference["time_zone_name"] == "Europe/Paris"
    assert [day["date"] for day in conference["days"]] == ["2031-06-29", "2031-06-30"]
    assert conference["daysCount"] == 2
    assert [room["name"] for room in conference["rooms"]] == [
        "Hall main",
        "Hall side",
        "Exhibition centre",
    ]
    assert conference["tracks"] == [
        {"name": "Track politics", "slug": "politics", "color": "#aa3300"}
    ]

    opening, panel, roomless = program["sessions"]
    events = {event["id"]: event for event in _events(document)}
    assert set(events) == {opening.pk, panel.pk, roomless.pk}
    first = events[opening.pk]
    assert first["date"] == "2031-06-29T10:00:00+02:00"
    assert first["start"] == "10:00"
    assert first["duration"] == "01:30"
    assert first["room"] == "Hall main"
    assert first["track"] == "Track politics"
    assert first["type"] == "plenary"
    assert first["language"] == "fa"
    assert first["url"] == f"http://testserver/en/2031/sessions/{opening.pk}/"
    assert first["guid"] == str(uuid.uuid5(GUID_NAMESPACE, f"2031/session/{opening.pk}"))
    assert first["slug"] == f"gathering2031-{opening.pk}-opening"
    assert [person["name"] for person in first["persons"]] == ["Maryam Example", "Second Speaker"]
    assert first["links"][0]["url"] == "https://stream.example.org/main"
    day_one = conference["days"][0]["rooms"]
    assert day_one["Hall main"][0]["id"] == opening.pk
    assert day_one["Hall side"] == []

    # No room and no track: under the venue's name, with a null track.
    last = conference["days"][1]["rooms"]["Exhibition centre"]
    assert [event["id"] for event in last] == [roomless.pk]
    assert last[0]["track"] is None
    assert last[0]["persons"] == []


def test_schedule_json_guids_are_stable_across_languages_and_edits(
    client: Client, program: dict[str, Any]
) -> None:
    before = {e["id"]: e["guid"] for e in _events(client.get("/export/2031/schedule.json").json())}
    opening = program["sessions"][0]
    opening.title = texts("Opening, renamed")
    opening.save()
    after_fa = client.get("/export/2031/schedule.json?lang=fa").json()
    assert {e["id"]: e["guid"] for e in _events(after_fa)} == before
    assert len(set(before.values())) == 3


def test_schedule_json_speaks_the_language_asked_for(
    client: Client, program: dict[str, Any]
) -> None:
    document = client.get("/export/2031/schedule.json?lang=fa").json()
    titles = {event["title"] for event in _events(document)}
    # Persian where there is a text; the edition's default language (English) elsewhere.
    assert titles == {"گشایش", "میزگرد", "Gathering in the square"}
    opening = next(e for e in _events(document) if e["title"] == "گشایش")
    assert opening["url"].startswith("http://testserver/fa/2031/sessions/")
    assert opening["persons"][0]["name"] == "مریم نمونه"


def test_default_language_is_the_editions(client: Client, program: dict[str, Any]) -> None:
    Edition.objects.filter(pk=program["edition"].pk).update(default_language="fr")
    document = client.get("/export/2031/schedule.json").json()
    assert document["schedule"]["conference"]["title"] == "Rassemblement 2031"
    assert "Ouverture" in {event["title"] for event in _events(document)}


# --- frab XML ----------------------------------------------------------------------------


def test_schedule_xml_is_valid_and_carries_the_program(
    client: Client, program: dict[str, Any], xml_schema: etree.XMLSchema
) -> None:
    response = client.get("/export/2031/schedule.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml; charset=utf-8"
    tree = _assert_valid_xml(xml_schema, response.content)

    opening, _panel, roomless = program["sessions"]
    assert tree.findtext("conference/acronym") == "gathering2031"
    assert [day.get("date") for day in tree.findall("day")] == ["2031-06-29", "2031-06-30"]
    assert [day.get("index") for day in tree.findall("day")] == ["1", "2"]
    event = tree.find(f"day/room/event[@id='{opening.pk}']")
    assert event.getparent().get("name") == "Hall main"
    assert event.findtext("title") == "Opening"
    assert event.findtext("date") == "2031-06-29T10:00:00+02:00"
    assert event.findtext("start") == "10:00"
    assert event.findtext("duration") == "01:30"
    assert event.findtext("track") == "Track politics"
    assert [p.text for p in event.findall("persons/person")] == ["Maryam Example", "Second Speaker"]
    assert event.get("guid") == str(uuid.uuid5(GUID_NAMESPACE, f"2031/session/{opening.pk}"))
    orphan = tree.find(f"day/room/event[@id='{roomless.pk}']")
    assert orphan.getparent().get("name") == "Exhibition centre"
    assert orphan.findtext("track") == ""


def test_schedule_xml_of_an_edition_without_sessions_is_valid(
    client: Client, xml_schema: etree.XMLSchema, json_validator: jsonschema.Draft6Validator
) -> None:
    EditionFactory(year=2032)
    _assert_valid_xml(xml_schema, client.get("/export/2032/schedule.xml").content)
    _assert_valid_json(json_validator, client.get("/export/2032/schedule.json").json())
    calendar = _calendar(client.get("/export/2032/schedule.ics").content)
    assert calendar.walk("VEVENT") == []
    assert calendar.walk("VTIMEZONE")


# --- iCalendar ---------------------------------------------------------------------------


def test_edition_ical_parses_back_with_times_uids_and_texts(
    client: Client, program: dict[str, Any]
) -> None:
    response = client.get("/export/2031/schedule.ics")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    calendar = _calendar(response.content)
    assert str(calendar["X-WR-CALNAME"]) == "Gathering 2031"
    assert [zone["TZID"] for zone in calendar.walk("VTIMEZONE")] == ["Europe/Paris"]

    opening, _panel, roomless = program["sessions"]
    events = {str(event["UID"]): event for event in calendar.walk("VEVENT")}
    assert set(events) == {f"session-{s.pk}@gathering" for s in program["sessions"]}
    first = events[f"session-{opening.pk}@gathering"]
    start = first.decoded("DTSTART")
    assert start == dt.datetime(2031, 6, 29, 10, 0, tzinfo=PARIS)
    assert start.utcoffset() == dt.timedelta(hours=2)
    assert first["DTSTART"].params["TZID"] == "Europe/Paris"
    assert first.decoded("DTEND") == dt.datetime(2031, 6, 29, 11, 30, tzinfo=PARIS)
    assert str(first["SUMMARY"]) == "Opening"
    description = str(first["DESCRIPTION"])
    assert description.startswith("An abstract.")
    assert "Maryam Example, Second Speaker" in description
    assert str(first["LOCATION"]) == (
        "Hall main, Exhibition centre, 1 Example Road, 93420 Villepinte"
    )
    assert str(first["URL"]) == f"http://testserver/en/2031/sessions/{opening.pk}/"
    assert [str(c) for c in first["CATEGORIES"].cats] == ["Track politics", "Plenary"]
    assert first.decoded("GEO") is not None
    last = events[f"session-{roomless.pk}@gathering"]
    assert str(last["LOCATION"]).startswith("Exhibition centre")
    assert [str(c) for c in last["CATEGORIES"].cats] == ["Performance"]


def test_ical_uid_uses_the_organisations_domain(client: Client, program: dict[str, Any]) -> None:
    from gathering.core.models import Organisation

    Organisation.objects.create(pk=1, name=texts("Org"), website="https://iran.example.org/x")
    calendar = _calendar(client.get("/export/2031/schedule.ics").content)
    assert {str(e["UID"]).split("@")[1] for e in calendar.walk("VEVENT")} == {"iran.example.org"}


def test_session_ical_has_one_event_in_the_language_asked_for(
    client: Client, program: dict[str, Any]
) -> None:
    panel = program["sessions"][1]
    response = client.get(f"/export/2031/sessions/{panel.pk}.ics?lang=fr")
    assert response.status_code == 200
    (event,) = _calendar(response.content).walk("VEVENT")
    assert str(event["UID"]) == f"session-{panel.pk}@gathering"
    assert str(event["SUMMARY"]) == "Table ronde"
    assert str(event["URL"]) == f"http://testserver/fr/2031/sessions/{panel.pk}/"
    assert event.decoded("DTSTART") == dt.datetime(2031, 6, 30, 15, 0, tzinfo=PARIS)


def test_speaker_ical_lists_their_sessions_across_editions(
    client: Client, program: dict[str, Any]
) -> None:
    maryam = program["speakers"][0]
    earlier = SessionFactory(
        edition=EditionFactory(year=2029, timezone="Asia/Tehran"),
        title=texts("Earlier talk"),
        start=dt.datetime(2029, 6, 29, 9, 0, tzinfo=dt.UTC),
        end=dt.datetime(2029, 6, 29, 10, 0, tzinfo=dt.UTC),
    )
    add_speaker(earlier, maryam)
    calendar = _calendar(client.get("/export/speakers/maryam.ics").content)
    summaries = sorted(str(event["SUMMARY"]) for event in calendar.walk("VEVENT"))
    assert summaries == ["Earlier talk", "Opening", "Panel"]
    assert {zone["TZID"] for zone in calendar.walk("VTIMEZONE")} == {"Europe/Paris", "Asia/Tehran"}
    tehran = next(e for e in calendar.walk("VEVENT") if str(e["SUMMARY"]) == "Earlier talk")
    assert tehran["DTSTART"].params["TZID"] == "Asia/Tehran"
    assert tehran.decoded("DTSTART") == dt.datetime(2029, 6, 29, 9, 0, tzinfo=dt.UTC)


def test_hidden_speaker_has_no_feed_and_appears_in_no_export(
    client: Client, program: dict[str, Any]
) -> None:
    assert client.get("/export/speakers/hidden.ics").status_code == 404
    for url in [
        "/export/2031/schedule.json",
        "/export/2031/schedule.xml",
        "/export/2031/schedule.ics",
        f"/export/2031/sessions/{program['sessions'][2].pk}.ics",
        "/export/speakers/maryam.ics",
    ]:
        content = client.get(url).content.decode()
        assert "Hidden Person" not in content, url
        assert "Maryam Example" in content or "speakers" not in url


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/export/1999/schedule.ics",
        "/export/1999/schedule.xml",
        "/export/1999/schedule.json",
        "/export/99999999999999999999999/schedule.json",
        "/export/2031/sessions/999999.ics",
        "/export/2031/sessions/99999999999999999999999.ics",
        "/export/speakers/nobody.ics",
    ],
)
def test_unknown_year_session_or_speaker_is_404(
    client: Client, program: dict[str, Any], url: str
) -> None:
    assert client.get(url).status_code == 404


def test_session_of_another_edition_is_404(client: Client, program: dict[str, Any]) -> None:
    other = SessionFactory(edition=EditionFactory(year=2033))
    assert client.get(f"/export/2031/sessions/{other.pk}.ics").status_code == 404
    assert client.get(f"/export/2033/sessions/{other.pk}.ics").status_code == 200


@pytest.mark.parametrize(
    "lang", ["de", "xx", "<script>alert(1)</script>", "fa\u202e", "e" * 10_000]
)
@pytest.mark.parametrize(
    "url",
    [
        "/export/2031/schedule.ics",
        "/export/2031/schedule.xml",
        "/export/2031/schedule.json",
        "/export/speakers/maryam.ics",
    ],
)
def test_unknown_language_is_a_plain_400(
    client: Client, program: dict[str, Any], url: str, lang: str
) -> None:
    response = client.get(url, {"lang": lang})
    assert response.status_code == 400
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    body = response.content.decode()
    assert body == "Unknown language: use one of en, fa, fr."


def test_language_code_is_case_insensitive_and_empty_means_default(
    client: Client, program: dict[str, Any]
) -> None:
    upper = client.get("/export/2031/schedule.json?lang=FA").json()
    assert upper["schedule"]["conference"]["title"] == "گردهمایی 2031"
    empty = client.get("/export/2031/schedule.json?lang=").json()
    assert empty["schedule"]["conference"]["title"] == "Gathering 2031"


# --- hostile text ------------------------------------------------------------------------


def test_hostile_texts_still_give_valid_documents(
    client: Client,
    program: dict[str, Any],
    json_validator: jsonschema.Draft6Validator,
    xml_schema: etree.XMLSchema,
) -> None:
    opening = program["sessions"][0]
    hostile = _storable(HOSTILE)
    Session.objects.filter(pk=opening.pk).update(
        title={"en": hostile, "fa": LONG}, abstract={"en": hostile + LONG}
    )
    program["rooms"][0].name = texts(hostile)
    program["rooms"][0].save()
    program["track"].name = texts(_storable("\x1b\x00\x07"))
    program["track"].save()
    speaker = program["speakers"][0]
    speaker.name = texts(hostile)
    speaker.save()
    expected = HOSTILE.replace("\x00", "").replace("\x07", "").replace("\x1b", "")

    for lang in ("en", "fa"):
        document = client.get(f"/export/2031/schedule.json?lang={lang}").json()
        _assert_valid_json(json_validator, document)
        xml = client.get(f"/export/2031/schedule.xml?lang={lang}").content
        tree = _assert_valid_xml(xml_schema, xml)
        assert b"<script>" not in xml
        calendar = _calendar(client.get(f"/export/2031/schedule.ics?lang={lang}").content)
        assert len(calendar.walk("VEVENT")) == 3

    tree_title = tree.find(f"day/room/event[@id='{opening.pk}']/title").text
    assert tree_title == LONG
    en = client.get("/export/2031/schedule.json").json()
    event = next(e for e in _events(en) if e["id"] == opening.pk)
    assert event["title"] == expected
    assert "\u202e" in event["title"]
    assert event["room"] == expected
    # A track name of nothing but control characters falls back to its slug.
    assert event["track"] == "politics"
    assert event["persons"][0]["name"] == expected
    ics = client.get("/export/2031/schedule.ics").content
    assert b"\x00" not in ics
    assert b"\x1b" not in ics
    (ics_event,) = [
        e
        for e in _calendar(ics).walk("VEVENT")
        if str(e["UID"]).startswith(f"session-{opening.pk}@")
    ]
    assert str(ics_event["SUMMARY"]) == expected


def test_duplicate_room_names_stay_apart(
    client: Client,
    program: dict[str, Any],
    json_validator: jsonschema.Draft6Validator,
    xml_schema: etree.XMLSchema,
) -> None:
    main, side = program["rooms"]
    side.name = main.name
    side.save()
    document = client.get("/export/2031/schedule.json").json()
    _assert_valid_json(json_validator, document)
    rooms = [room["name"] for room in document["schedule"]["conference"]["rooms"]]
    assert rooms == ["Hall main", "Hall main (side)", "Exhibition centre"]
    panel = next(e for e in _events(document) if e["id"] == program["sessions"][1].pk)
    assert panel["room"] == "Hall main (side)"
    _assert_valid_xml(xml_schema, client.get("/export/2031/schedule.xml").content)


# --- caching -----------------------------------------------------------------------------


def test_exports_are_cached_until_the_program_changes(
    client: Client, program: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    first = client.get("/export/2031/schedule.json").content
    with django_assert_max_num_queries(1):  # the cache version only
        assert client.get("/export/2031/schedule.json").content == first
    opening = program["sessions"][0]
    opening.title = texts("Renamed opening")
    opening.save()
    titles = {e["title"] for e in _events(client.get("/export/2031/schedule.json").json())}
    assert "Renamed opening" in titles
