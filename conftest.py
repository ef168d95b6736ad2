"""Test set-up shared by every app (settings come from ``gathering.settings_test``)."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Page caches live in process memory (or Redis): one test's pages must not serve another's.
    from django.core.cache import cache

    cache.clear()
