"""Test set-up shared by every app (settings come from ``gathering.settings_test``)."""

from __future__ import annotations

import pytest

# Fixtures shared by several apps' tests: ``smtp_sink`` (a local SMTP server that receives email)
# and ``outbox_worker`` / ``deliver_outbox()`` (the worker that sends queued email).
pytest_plugins = [
    "gathering.core.testing.smtp",
    "gathering.core.testing.outbox",
    "gathering.core.testing.keys",  # ``isolated_keys``: a data folder of one's own to rotate keys
]


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    # Page caches live in process memory (or Redis): one test's pages must not serve another's.
    from django.core.cache import cache

    from gathering.core.local_cache import clear_all

    cache.clear()
    clear_all()


@pytest.fixture(autouse=True)
def _default_language() -> None:
    # A request or test that activated Persian must not leave it active for the next test in
    # the same worker: lazy texts (verdict reasons, form errors) render in the active language.
    from django.conf import settings
    from django.utils import translation

    translation.activate(settings.LANGUAGE_CODE)
