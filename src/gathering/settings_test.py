"""The test suite's settings: ``settings.py`` with a fixed key and a throw-away data folder.

Only the environment differs, so tests exercise the same settings module as production.
"""

import os
import tempfile

os.environ.setdefault("GATHERING_TESTING", "1")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key-not-for-production-0123456789abcdef")
os.environ.setdefault("GATHERING_DATA_DIR", tempfile.mkdtemp(prefix="gathering-test-"))

from gathering.settings import *  # noqa: F403

# xdist workers each have their own test database; they must not share Redis either: each
# test empties the cache (FLUSHDB), which would wipe another worker's counters mid-test. So each
# worker gets its own Redis database, counting down from the one REDIS_URL names (gw0: 15,
# gw1: 14, ...), and its own key prefix.
if os.environ.get("REDIS_URL"):
    _worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    _base, _slash, _db = os.environ["REDIS_URL"].rpartition("/")
    if _worker.startswith("gw") and _worker[2:].isdigit() and _db.isdigit():
        REDIS_URL = f"{_base}/{max(0, int(_db) - int(_worker[2:]))}"
        CACHES["default"]["LOCATION"] = REDIS_URL  # noqa: F405
    CACHES["default"]["KEY_PREFIX"] = "gathering-test-" + _worker  # noqa: F405

# WhiteNoise warns (an error under pytest) when the collected-static folder is missing.
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # noqa: F405

# Passwords: the production hasher (PBKDF2, about a million rounds) costs half a second of CPU
# on purpose, and tests create and check staff passwords hundreds of times. Tests hash with MD5;
# PBKDF2 stays listed so that hashes made by the production settings still verify.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.MD5PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
