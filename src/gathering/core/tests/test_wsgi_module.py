"""``gathering.wsgi``, the module the production server loads in each worker process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.engine_agnostic

PROBE = """
import gc
import gathering.wsgi
from django.core.validators import EmailValidator
from django.utils.functional import empty
print(EmailValidator.domain_regex._wrapped is not empty, gc.get_freeze_count() > 0)
"""


def test_loading_the_application_leaves_nothing_for_the_first_requests_to_compile(
    tmp_path: Path,
) -> None:
    """Every thread of a fresh server compiled Django's email pattern at once on the first
    sign-ups (seen in the bench's p99): the module compiles it before the server serves."""
    environment = {
        **os.environ,
        "GATHERING_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "gathering.settings",
        "DEBUG": "0",
    }
    environment.pop("DATABASE_URL", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "True"]
