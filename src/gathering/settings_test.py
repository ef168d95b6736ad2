"""The test suite's settings: ``settings.py`` with a fixed key and a throw-away data folder.

Only the environment differs, so tests exercise the same settings module as production.
"""

import os
import tempfile

os.environ.setdefault("GATHERING_TESTING", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("GATHERING_DATA_DIR", tempfile.mkdtemp(prefix="gathering-test-"))

from gathering.settings import *  # noqa: F403

# xdist workers each have their own test database; they must not share cached pages in Redis.
if REDIS_URL:  # noqa: F405
    CACHES["default"]["KEY_PREFIX"] = "gathering-test-" + os.environ.get(  # noqa: F405
        "PYTEST_XDIST_WORKER", "main"
    )

# WhiteNoise warns (an error under pytest) when the collected-static folder is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405
