"""A private data folder for tests that rotate or retire keys.

The fixture ``isolated_keys`` (import it into a test module) points ``settings.DATA_DIR`` at a
fresh folder and clears the key variables of the environment, so a rotation never touches the
keys the rest of the test run shares; every keyring is reloaded before and after."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

KEY_VARIABLES = (
    "PII_KEYS",
    "PII_KEY_ID",
    "BLIND_INDEX_KEY",
    "HMAC_KEYS",
    "HMAC_KEY_ID",
    "ALTCHA_HMAC_KEY",
    "ALTCHA_HMAC_KEYS",
    "ALTCHA_HMAC_KEY_ID",
)


def _reset_all() -> None:
    from gathering.core import crypto, hmac_keys

    crypto.reset_keys()
    hmac_keys.reset()


@pytest.fixture
def isolated_keys(tmp_path: Path, settings: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh data folder (returned) without keys; the key variables of the environment unset."""
    for name in KEY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    data = tmp_path / "data"
    data.mkdir()
    settings.DATA_DIR = data
    _reset_all()
    yield data
    _reset_all()
