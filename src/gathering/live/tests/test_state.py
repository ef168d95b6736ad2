"""An edition's live state: ids, framing, resuming, Redis messages."""

from __future__ import annotations

import json

import pytest

from gathering.live.state import EditionState, frame, normalise, parse_event_id


def events(data: bytes) -> list[tuple[int, str, object]]:
    found = []
    for block in data.decode().split("\n\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        found.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
    return found


def test_ids_increase_strictly_even_when_the_clock_goes_back() -> None:
    state = EditionState(2026)
    first = state.emit({"voices": 1, "checked_in": 2})
    ids = [event_id for event_id, _topic, _value in events(first)]
    assert ids == sorted(ids) and len(set(ids)) == 2 and ids[1] == ids[0] + 1
    later = state.next_ids(["voices"], at_ms=ids[0] - 10_000)
    assert later["voices"] == ids[1] + 1


def test_ids_are_milliseconds_since_the_epoch() -> None:
    state = EditionState(2026)
    assert state.next_ids(["voices"], at_ms=1_800_000_000_123) == {"voices": 1_800_000_000_123}


def test_replay_sends_everything_or_only_what_changed_since_an_id() -> None:
    state = EditionState(2026)
    state.apply(
        {"voices": 1, "checked_in": 2, "stage": "x"}, {"voices": 10, "checked_in": 11, "stage": 12}
    )
    state.apply({"checked_in": 3}, {"checked_in": 20})
    assert [e[1] for e in events(state.replay())] == ["voices", "stage", "checked_in"]
    assert events(state.replay(11)) == [(12, "stage", "x"), (20, "checked_in", 3)]
    assert state.replay(20) == b""
    # An id from the future (another server's, or made up) gets everything.
    assert len(events(state.replay(21))) == 3
    assert state.public(12) == {"id": 20, "topics": {"checked_in": 3}}
    assert state.public(99)["topics"] == {"voices": 1, "checked_in": 3, "stage": "x"}


@pytest.mark.parametrize(
    "raw",
    [None, "", "abc", "-5", "12.5", "1e9", "١٢٣", "9" * 40, "12 34", "0x10"],
)
def test_malformed_event_ids_count_as_none(raw: str | None) -> None:
    assert parse_event_id(raw) is None


def test_event_ids_are_read() -> None:
    assert parse_event_id(" 1800000000000 ") == 1_800_000_000_000


def test_a_value_with_line_breaks_stays_on_one_data_line() -> None:
    text = "line\nbreak\r\u2028separator <script>alert(1)</script> \u202eevil"
    data = frame(5, "announcements", [text])
    assert data.count(b"\n") == 4 and data.endswith(b"\n\n")
    assert events(data) == [(5, "announcements", [text])]


def test_normalise_makes_values_json_and_leaves_out_unfit_topics() -> None:
    values = {"sites": (1, 2), "bad\nname": 1, "ok": {"a": 1}, "": 3, "x" * 65: 1}
    assert normalise(values) == {"sites": [1, 2], "ok": {"a": 1}}


def test_merge_applies_newer_topics_only() -> None:
    state = EditionState(2026)
    state.apply({"voices": 1}, {"voices": 10})
    assert state.merge({"id": 10, "topics": {"voices": 1}, "ids": {"voices": 10}}) == b""
    assert state.merge({"id": 9, "topics": {"voices": 0}, "ids": {"voices": 9}}) == b""
    data = state.merge(
        {"id": 11, "topics": {"voices": 2, "stage": "y"}, "ids": {"voices": 11, "stage": 11}}
    )
    assert {e[1] for e in events(data)} == {"voices", "stage"}
    assert state.values == {"voices": 2, "stage": "y"} and state.last_id == 11


@pytest.mark.parametrize(
    "message",
    [
        {},
        {"topics": {"voices": 1}},
        {"topics": {"voices": 1}, "ids": {}},
        {"topics": {"voices": 1}, "ids": {"voices": "12"}},
        {"topics": {"bad topic": 1}, "ids": {"bad topic": 12}},
        {"topics": [1], "ids": {}},
    ],
)
def test_malformed_messages_are_refused(message: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        EditionState(2026).merge(message)


def test_adopt_takes_the_published_state_and_reports_differences() -> None:
    state = EditionState(2026)
    state.apply({"voices": 1, "checked_in": 5}, {"voices": 50, "checked_in": 51})
    data = state.adopt(
        {
            "id": 40,
            "topics": {"voices": 1, "checked_in": 7},
            "ids": {"voices": 30, "checked_in": 40},
        }
    )
    assert events(data) == [(40, "checked_in", 7)]
    assert state.ids == {"voices": 30, "checked_in": 40} and state.last_id == 40
    dump = state.dump()
    other = EditionState(2026)
    other.adopt(dump)
    assert other.replay() == state.replay()


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
