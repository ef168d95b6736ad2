"""``keys.public_keys()`` is kept per process (every check-in asks for it) and follows rotation
and retirement."""

from __future__ import annotations

import os
import time
from pathlib import Path

from gathering.registration import keys


def settle(folder: Path) -> None:
    # A folder changed in the last two seconds is never cached (file times are coarse): date
    # it back, as if the last rotation were a while ago.
    past = time.time() - 60
    os.utime(folder, (past, past))


def test_public_keys_are_cached_and_follow_a_rotation(tmp_path: Path) -> None:
    first = keys.current_signing_key(directory=tmp_path)
    settle(tmp_path)
    assert keys.public_keys(directory=tmp_path) == {first.key_id: first.public_bytes}
    cached = keys._cache[tmp_path][1]
    assert keys.public_keys(directory=tmp_path) == {first.key_id: first.public_bytes}
    assert keys._cache[tmp_path][1] is cached  # read from the cache, not the folder

    second = keys.rotate_ticket_key(directory=tmp_path)

    assert keys.public_keys(directory=tmp_path) == {
        first.key_id: first.public_bytes,
        second.key_id: second.public_bytes,
    }


def test_a_retired_key_leaves_the_cached_keys(tmp_path: Path) -> None:
    first = keys.current_signing_key(directory=tmp_path)
    second = keys.rotate_ticket_key(directory=tmp_path)
    settle(tmp_path)
    assert set(keys.public_keys(directory=tmp_path)) == {first.key_id, second.key_id}

    keys.retire_ticket_key(first.key_id, directory=tmp_path)

    assert keys.public_keys(directory=tmp_path) == {second.key_id: second.public_bytes}


def test_changing_the_answer_does_not_change_the_cache(tmp_path: Path) -> None:
    first = keys.current_signing_key(directory=tmp_path)
    settle(tmp_path)
    answer = keys.public_keys(directory=tmp_path)

    answer.clear()

    assert keys.public_keys(directory=tmp_path) == {first.key_id: first.public_bytes}
