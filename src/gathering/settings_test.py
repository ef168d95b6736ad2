"""The test suite's settings: ``settings.py`` with a fixed key and a throw-away data folder.

Only the environment differs, so tests exercise the same settings module as production.
"""

import os
import tempfile

os.environ.setdefault("GATHERING_TESTING", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("GATHERING_DATA_DIR", tempfile.mkdtemp(prefix="gathering-test-"))

from gathering.settings import *  # noqa: E402, F403
