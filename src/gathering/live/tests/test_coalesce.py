"""The coalescer: at most one event per topic per second, with the latest value."""

from __future__ import annotations

import pytest

from gathering.live.coalesce import Coalescer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def emit(coalescer: Coalescer) -> dict[str, object]:
    due = coalescer.due()
    coalescer.commit(due)
    return due


def test_a_first_change_goes_out_at_once() -> None:
    clock = Clock()
    coalescer = Coalescer(clock=clock)
    coalescer.seed({"voices": 1, "checked_in": 5})
    coalescer.observe({"voices": 2, "checked_in": 5})
    assert emit(coalescer) == {"voices": 2}
    assert coalescer.next_due() is None


def test_nothing_changed_nothing_due() -> None:
    coalescer = Coalescer(clock=Clock())
    coalescer.seed({"voices": 1})
    coalescer.observe({"voices": 1})
    assert coalescer.due() == {}


def test_changes_within_a_second_wait_and_go_out_with_the_latest_value() -> None:
    clock = Clock()
    coalescer = Coalescer(clock=clock)
    coalescer.seed({"voices": 1})
    coalescer.observe({"voices": 2})
    assert emit(coalescer) == {"voices": 2}
    clock.now += 0.2
    coalescer.observe({"voices": 3})
    assert emit(coalescer) == {}
    assert coalescer.next_due() == 101.0
    clock.now += 0.5
    coalescer.observe({"voices": 4})
    assert emit(coalescer) == {}
    clock.now = 100.99
    assert emit(coalescer) == {}
    clock.now = 101.0
    # 3 was never sent: only the latest value goes out, one second after the last event.
    assert emit(coalescer) == {"voices": 4}
    assert coalescer.next_due() is None
    clock.now = 101.5
    coalescer.observe({"voices": 5})
    assert emit(coalescer) == {}
    assert coalescer.next_due() == 102.0


def test_a_change_undone_before_its_turn_is_not_sent() -> None:
    clock = Clock()
    coalescer = Coalescer(clock=clock)
    coalescer.seed({"stage": "a"})
    coalescer.observe({"stage": "b"})
    assert emit(coalescer) == {"stage": "b"}
    clock.now += 0.3
    coalescer.observe({"stage": "c"})
    clock.now += 0.3
    coalescer.observe({"stage": "b"})
    clock.now += 1
    assert emit(coalescer) == {}
    assert coalescer.pending == {}


def test_topics_are_coalesced_independently() -> None:
    clock = Clock()
    coalescer = Coalescer(clock=clock)
    coalescer.seed({"voices": 1, "checked_in": 1})
    coalescer.observe({"voices": 2, "checked_in": 1})
    assert emit(coalescer) == {"voices": 2}
    clock.now += 0.5
    coalescer.observe({"voices": 3, "checked_in": 2})
    # checked_in never went out: at once; voices went out half a second ago: waits.
    assert emit(coalescer) == {"checked_in": 2}
    assert coalescer.next_due() == 101.0


def test_an_emission_not_committed_stays_pending() -> None:
    clock = Clock()
    coalescer = Coalescer(clock=clock)
    coalescer.seed({"voices": 1})
    coalescer.observe({"voices": 2})
    assert coalescer.due() == {"voices": 2}  # e.g. Redis was away: not committed
    clock.now += 0.1
    assert emit(coalescer) == {"voices": 2}


def test_a_topic_that_disappears_becomes_none_and_a_new_one_goes_out() -> None:
    coalescer = Coalescer(clock=Clock())
    coalescer.seed({"stage": {"now": []}})
    coalescer.observe({"announcements": ["hello"]})
    assert emit(coalescer) == {"stage": None, "announcements": ["hello"]}


def test_an_unseeded_coalescer_emits_everything_first() -> None:
    coalescer = Coalescer(clock=Clock())
    coalescer.observe({"voices": 0, "countries": 0})
    assert emit(coalescer) == {"voices": 0, "countries": 0}


# Nothing here depends on the database engine: the PostgreSQL run of `make test` leaves it out.
pytestmark = pytest.mark.engine_agnostic
