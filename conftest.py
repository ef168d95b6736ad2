"""Test set-up shared by every app (settings come from ``gathering.settings_test``)."""

from __future__ import annotations

import pytest

# Fixtures shared by several apps' tests: ``smtp_sink`` (a local SMTP server that receives email).
pytest_plugins = ["gathering.core.testing.smtp"]


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Page caches live in process memory (or Redis): one test's pages must not serve another's.
    from django.core.cache import cache

    cache.clear()
