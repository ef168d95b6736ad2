"""The live state of one edition as its clients see it, and its Server-Sent Events framing.

Each topic (``checked_in``, ``voices``, ``stage``, ...) has a current value and the id of the
event that last changed it. Ids are milliseconds since the epoch, strictly increasing per
edition: ids from different processes (and from before a restart) stay comparable, so a client
that resumes with ``Last-Event-ID`` gets the current value of exactly the topics that changed
since. Topics that change together get consecutive ids, each event its own: a connection cut
between two of them resumes from the first one and still gets the second.
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Iterable, Mapping
from typing import Any

logger = logging.getLogger("gathering.live")

# Topic names end up in the ``event:`` line of the stream: nothing that could break the framing.
TOPIC_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode_value(value: Any) -> str:
    """Compact JSON; never a raw line break (JSON escapes them in strings), so one ``data:``
    line holds it."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def normalise(values: Mapping[str, Any]) -> dict[str, Any]:
    """Values as they come back from JSON (tuples become lists, keys strings), so a value read
    from Redis compares equal to the same value polled from the database. Topics with names
    unfit for the stream are left out (and logged)."""
    clean: dict[str, Any] = {}
    for topic, value in values.items():
        if not isinstance(topic, str) or not TOPIC_NAME.fullmatch(topic):
            logger.warning("live: topic name %r left out of the stream", topic)
            continue
        clean[topic] = value
    result: dict[str, Any] = json.loads(encode_value(clean))
    return result


def frame(event_id: int, topic: str, value: Any) -> bytes:
    return f"id: {event_id}\nevent: {topic}\ndata: {encode_value(value)}\n\n".encode()


def parse_event_id(raw: str | None) -> int | None:
    """A ``Last-Event-ID`` as sent back by a client; None when absent or malformed."""
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        return None
    return int(raw)


class EditionState:
    def __init__(self, year: int) -> None:
        self.year = year
        self.values: dict[str, Any] = {}
        self.ids: dict[str, int] = {}
        self.frames: dict[str, bytes] = {}
        self.last_id = 0

    @property
    def empty(self) -> bool:
        return not self.ids

    def next_ids(self, topics: Iterable[str], *, at_ms: int | None = None) -> dict[str, int]:
        """New ids for ``topics`` (in a stable order), all above every id given so far."""
        base = max(now_ms() if at_ms is None else at_ms, self.last_id + 1)
        return {topic: base + offset for offset, topic in enumerate(sorted(topics))}

    def apply(self, values: Mapping[str, Any], ids: Mapping[str, int]) -> bytes:
        """Record new values with their ids; returns their events, in id order, to broadcast."""
        changed = []
        for topic, value in values.items():
            event_id = ids[topic]
            self.values[topic] = value
            self.ids[topic] = event_id
            self.frames[topic] = frame(event_id, topic, value)
            self.last_id = max(self.last_id, event_id)
            changed.append((event_id, topic))
        return b"".join(self.frames[topic] for _id, topic in sorted(changed))

    def emit(self, values: Mapping[str, Any]) -> bytes:
        """Record changed values under new ids; returns their events."""
        return self.apply(values, self.next_ids(values))

    def replay(self, last_event_id: int | None = None) -> bytes:
        """What a (re)connecting client needs: every topic, or with ``last_event_id`` (one this
        edition gave) only the topics changed after it. An id from the future (from before a
        Redis failover, or made up) gets everything."""
        if last_event_id is not None and last_event_id > self.last_id:
            last_event_id = None
        return b"".join(
            self.frames[topic]
            for event_id, topic in sorted((event_id, t) for t, event_id in self.ids.items())
            if last_event_id is None or event_id > last_event_id
        )

    def public(self, last_event_id: int | None = None) -> dict[str, Any]:
        """The state as JSON for ``state.json`` (the polling fallback), with the same rule as
        ``replay`` for ``last_event_id``."""
        if last_event_id is not None and last_event_id > self.last_id:
            last_event_id = None
        return {
            "id": self.last_id,
            "topics": {
                topic: value
                for topic, value in self.values.items()
                if last_event_id is None or self.ids[topic] > last_event_id
            },
        }

    # Redis: the full state kept under a key, and the messages published on every change.

    def dump(self) -> dict[str, Any]:
        return {"id": self.last_id, "topics": dict(self.values), "ids": dict(self.ids)}

    def message(self, topics: Iterable[str]) -> dict[str, Any]:
        names = list(topics)
        return {
            "id": max((self.ids[t] for t in names), default=self.last_id),
            "topics": {t: self.values[t] for t in names},
            "ids": {t: self.ids[t] for t in names},
        }

    def merge(self, message: Mapping[str, Any]) -> bytes:
        """A published change: topics whose id is newer than ours are applied (the publisher's
        own echo and duplicates are not). Returns their events."""
        topics, ids = _checked(message)
        newer = {t: v for t, v in topics.items() if ids[t] > self.ids.get(t, 0)}
        return self.apply(newer, ids) if newer else b""

    def adopt(self, dump: Mapping[str, Any]) -> bytes:
        """The full state from Redis is the reference (after a (re)connection): take its values
        and ids; returns the events of the topics whose value differs from ours."""
        topics, ids = _checked(dump)
        differing = {t: v for t, v in topics.items() if t not in self.ids or self.values[t] != v}
        events = self.apply(differing, ids) if differing else b""
        # Same values under other ids: the ids are taken (silently) so that every server
        # resumes clients alike.
        self.apply({t: v for t, v in topics.items() if t not in differing}, ids)
        self.last_id = max([0, *self.ids.values()])
        return events


def _checked(message: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    topics, ids = message.get("topics"), message.get("ids")
    if not isinstance(topics, dict) or not isinstance(ids, dict):
        raise ValueError("a live message needs topics and ids")
    for topic in topics:
        event_id = ids.get(topic)
        if not TOPIC_NAME.fullmatch(topic) or not isinstance(event_id, int):
            raise ValueError(f"bad topic or id in a live message: {topic!r}")
    return topics, {t: ids[t] for t in topics}
