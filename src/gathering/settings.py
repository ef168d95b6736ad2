"""Gathering settings, read from the environment only.

With nothing set, Gathering runs on an embedded SQLite database (WAL mode) and an in-process
cache under the data folder. ``DATABASE_URL`` selects PostgreSQL and ``REDIS_URL`` the Redis
cache. See ``.env.example`` for every variable.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP
from django.utils.translation import gettext_lazy as _

PROJECT_DIR = Path(__file__).resolve().parent.parent.parent
DATA_DIR = Path(os.environ.get("GATHERING_DATA_DIR", PROJECT_DIR / "data")).resolve()


def env_bool(name: str, *, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def read_secret_key() -> str:
    """The key comes from ``SECRET_KEY`` or from ``<data>/secret_key`` (``gathering serve``
    writes that file on first run). With DEBUG off, a missing key stops the start."""
    if key := os.environ.get("SECRET_KEY"):
        return key
    key_file = DATA_DIR / "secret_key"
    if key_file.exists():
        return key_file.read_text().strip()
    if DEBUG:
        return "insecure-development-key-only-for-debug"
    raise ImproperlyConfigured(
        f"SECRET_KEY is not set and {key_file} does not exist: run `gathering serve` "
        "(it generates one) or set SECRET_KEY in the environment."
    )


def read_secret_key_fallbacks() -> list[str]:
    """Older secret keys that still verify what they signed (sessions, links to choose a
    password) after a rotation: ``SECRET_KEY_FALLBACKS`` (comma-separated) or
    ``<data>/keys/secret_key_fallbacks`` (one a line, written by ``gathering rotate_secret_key``)."""
    if value := os.environ.get("SECRET_KEY_FALLBACKS"):
        return [key.strip() for key in value.split(",") if key.strip()]
    path = DATA_DIR / "keys" / "secret_key_fallbacks"
    if path.exists():
        return [line.strip() for line in path.read_text().splitlines() if line.strip()]
    return []


DEBUG = env_bool("DEBUG")
SECRET_KEY = read_secret_key()
SECRET_KEY_FALLBACKS = read_secret_key_fallbacks()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "gathering.core",
    "gathering.program",
    "gathering.registration",
    "gathering.checkin",
    "gathering.voices",
    "gathering.satellites",
    "gathering.live",
    "gathering.transparency",
    "gathering.abuse",
    "gathering.outbox",
    "gathering.privacy",
    "gathering.audit",
    # Before django.contrib.admin: its admin/base_site.html adds a link to the security page.
    "gathering.accounts",
    "gathering.api",
    # django-ninja: its Swagger UI assets come from our static files (not a CDN) when listed.
    "ninja",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Django's CSP middleware plus the live server's origin; before the hot path and static
    # files, so that every answer carries the policy (core/security.py).
    "gathering.core.security.ContentSecurityPolicyMiddleware",
    "gathering.core.security.NoStoreMiddleware",  # no-store on form answers and staff pages
    "gathering.checkin.middleware.DeviceScanMiddleware",  # gate devices' scans: the hot path
    "gathering.voices.fast_path.SignFormMiddleware",  # signatures posted: the other hot path
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "gathering.core.middleware.LocaleMiddleware",  # Django's, quicker on API paths
    "django.middleware.common.CommonMiddleware",
    # "Origin: null" under no-referrer: trusted only with Sec-Fetch-Site: same-origin.
    "gathering.core.security.FetchMetadataOriginMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "gathering.audit.middleware.AuditRequestMiddleware",  # the request, for the back office's log
    "django.contrib.messages.middleware.MessageMiddleware",
    # Session time-outs, and the second factor before any staff page (accounts/middleware.py).
    "gathering.accounts.middleware.StaffSessionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "gathering.core.middleware.FallbackLanguageMiddleware",
]

ROOT_URLCONF = "gathering.urls"
WSGI_APPLICATION = "gathering.wsgi.application"
ASGI_APPLICATION = "gathering.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",  # {{ csp_nonce }}
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "gathering.core.context_processors.site",
            ],
        },
    },
]

# Database: embedded SQLite in WAL mode unless DATABASE_URL names another engine.
DATA_DIR.mkdir(parents=True, exist_ok=True)
DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{DATA_DIR / 'gathering.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=env_bool("DB_CONN_HEALTH_CHECKS", default=True),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets readers run beside the single writer; IMMEDIATE avoids lock upgrades
        # that fail with "database is locked" under concurrent writes. synchronous=FULL: a
        # commit is on disk before it returns (NORMAL can lose the last commits on a power
        # cut, such as a gate's "valid"); check-ins share commits (core/group_commit.py).
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000;"
        ),
        "transaction_mode": "IMMEDIATE",
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0 if DEBUG else 600
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = False
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Django's backend, whose health check skips connections used in the last second.
    DATABASES["default"]["ENGINE"] = "gathering.core.postgresql"
    # Server-side binding lets psycopg prepare the statements a connection repeats (from the
    # fifth run): PostgreSQL then skips parsing and planning them, about 40% of its work per
    # check-in. Behind a pooler that cannot keep prepared statements (PgBouncer in
    # transaction mode before 1.21), set DB_PREPARED_STATEMENTS=0.
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "server_side_binding": True,
        "prepare_threshold": 5 if env_bool("DB_PREPARED_STATEMENTS", default=True) else None,
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")
CACHES: dict[str, dict[str, Any]]
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "gathering"),
        }
    }
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": "gathering",
            "OPTIONS": {"MAX_ENTRIES": 5000},
        }
    }

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "core:staff-login"
LOGIN_REDIRECT_URL = "admin:index"
# Staff sign-in (the accounts app): a second factor after the password; failed attempts lock the
# account name (and throttle the address) for a while; sessions end after a while without
# activity and after a fixed time in any case; sensitive changes need a recent second factor.
ACCOUNTS_LOCKOUT_FAILURES = int(os.environ.get("ACCOUNTS_LOCKOUT_FAILURES", "5"))
ACCOUNTS_LOCKOUT_SECONDS = int(os.environ.get("ACCOUNTS_LOCKOUT_SECONDS", "900"))
ACCOUNTS_ADDRESS_FAILURES = int(os.environ.get("ACCOUNTS_ADDRESS_FAILURES", "30"))
ACCOUNTS_ADDRESS_LOCKOUT_SECONDS = int(os.environ.get("ACCOUNTS_ADDRESS_LOCKOUT_SECONDS", "900"))
ACCOUNTS_IDLE_TIMEOUT = int(os.environ.get("SESSION_IDLE_TIMEOUT", "1800"))
ACCOUNTS_ABSOLUTE_TIMEOUT = int(os.environ.get("SESSION_ABSOLUTE_TIMEOUT", "43200"))
ACCOUNTS_REAUTH_SECONDS = int(os.environ.get("ACCOUNTS_REAUTH_SECONDS", "600"))

# Languages: every page and email exists in each of these; Persian is right-to-left.
LANGUAGE_CODE = "en"
LANGUAGES = [
    ("en", _("English")),
    ("fa", _("Persian")),
    ("fr", _("French")),
]
LOCALE_PATHS = [Path(__file__).resolve().parent / "locale"]
USE_I18N = True
TIME_ZONE = "Europe/Paris"
USE_TZ = True

STATIC_URL = "/static/"
# Collected static files (`gathering setup`); STATIC_ROOT lets several data folders share one
# collection (the tests' servers do: collecting and compressing takes seconds).
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT") or DATA_DIR / "static")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or env_bool("GATHERING_TESTING")
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG or env_bool("GATHERING_TESTING")
MEDIA_URL = "/media/"
MEDIA_ROOT = DATA_DIR / "media"

# HTTPS=1: the site is reached over HTTPS only (directly or behind a TLS proxy). Then cookies
# are secure-only, plain-HTTP requests are redirected and browsers are told (HSTS) to use HTTPS
# for a year. Off by default: `make run` serves plain HTTP on 127.0.0.1, where secure cookies
# would never come back and HSTS would pin localhost to HTTPS.
HTTPS = env_bool("HTTPS")
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", default=not DEBUG and HTTPS)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=HTTPS)
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000" if HTTPS else "0"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
# Preload: a request to browser vendors, for the whole domain and hard to undo; an
# organisation opts in (SECURE_HSTS_PRELOAD=1), the software does not decide it for them.
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD")
# Behind a TLS proxy that sets X-Forwarded-Proto (and overwrites any a client sent):
# SECURE_PROXY_SSL_HEADER=X-Forwarded-Proto, else Django sees plain HTTP and redirects forever.
if proxy_header := os.environ.get("SECURE_PROXY_SSL_HEADER", "").strip():
    SECURE_PROXY_SSL_HEADER = ("HTTP_" + proxy_header.upper().replace("-", "_"), "https")
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True
# No referrer at all: addresses with private tokens (registration, signatures) never leak to
# the sites our pages link to. Browsers then send "Origin: null" on form posts, which Django's
# CSRF check refuses; core/security.py accepts it when Fetch Metadata proves the post
# same-origin. Browsers send Fetch Metadata to HTTPS and localhost only: serving plain HTTP on
# another address needs REFERRER_POLICY=same-origin.
SECURE_REFERRER_POLICY = os.environ.get("REFERRER_POLICY", "no-referrer")
# Content-Security-Policy (Django's middleware, core/security.py adds the live server's origin
# to connect-src): our own files only, no inline script or style; scripts and <style> elements
# may carry the request's nonce ({{ csp_nonce }}; never on pages from the page cache, whose
# nonce would be stale). data: images: the icons inside Swagger UI's stylesheet (/api/docs).
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    # The ALTCHA widget's proof-of-work worker and the scanner's service worker: our files.
    "worker-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}
# W021 asks for HSTS preload, which stays the organisation's choice (above).
SILENCED_SYSTEM_CHECKS = [] if SECURE_HSTS_PRELOAD else ["security.W021"]

# Email: sent over SMTP (a local relay, localhost:25, by default). Django 6.1 configures
# mailers in MAILERS (the EMAIL_HOST/EMAIL_PORT/... settings are deprecated); the environment
# variables keep their familiar names. Links in emails start with SITE_URL.
MAILERS = {
    "default": {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("EMAIL_PORT", "25")),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS"),
            "use_ssl": env_bool("EMAIL_USE_SSL"),
            "timeout": int(os.environ.get("EMAIL_TIMEOUT", "20")),
        },
    }
}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Gathering <noreply@localhost>")
SERVER_EMAIL = os.environ.get("SERVER_EMAIL", DEFAULT_FROM_EMAIL)
SITE_URL = os.environ.get("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# Public pages are cached whole; a version counter bumped on every program edit invalidates them.
PAGE_CACHE_SECONDS = int(os.environ.get("PAGE_CACHE_SECONDS", "600"))

GATHERING_STAFF_ROLES = [
    # (group name, what it is for) — later issues add their roles here.
    ("organiser", _("Organiser: everything")),
    ("program_editor", _("Program editor: editions, sessions, speakers")),
    ("registration_desk", _("Registration desk: one registrant at a time, delegations")),
    ("gate", _("Gate: ticket check-in, without names")),
    ("moderator", _("Moderator: messages and flagged signatures, without emails")),
    ("site_coordinator", _("Site coordinator: their own satellite site")),
    ("press_officer", _("Press officer: press accreditations and their badges")),
]

# "Add your voice": signatures over these limits (count, seconds) are flagged for review, not
# refused. Per campaign; shared by every server process (database, or Redis when configured).
VOICES_RATE_LIMITS = {
    "voices-address": (
        int(os.environ.get("VOICES_LIMIT_ADDRESS", "20")),
        int(os.environ.get("VOICES_LIMIT_WINDOW", "3600")),
    ),
    "voices-network": (
        int(os.environ.get("VOICES_LIMIT_NETWORK", "200")),
        int(os.environ.get("VOICES_LIMIT_WINDOW", "3600")),
    ),
    "voices-domain": (
        int(os.environ.get("VOICES_LIMIT_DOMAIN", "300")),
        int(os.environ.get("VOICES_LIMIT_WINDOW", "3600")),
    ),
}
# Mail providers shared by millions: an hourly limit on them would flag honest signers.
VOICES_UNLIMITED_DOMAINS = frozenset(
    os.environ.get(
        "VOICES_UNLIMITED_DOMAINS",
        "gmail.com,yahoo.com,yahoo.fr,outlook.com,hotmail.com,hotmail.fr,live.com,icloud.com,"
        "proton.me,protonmail.com,gmx.de,gmx.net,web.de,orange.fr,free.fr,laposte.net,aol.com,"
        "mail.ru,yandex.ru,t-online.de,libero.it,btinternet.com",
    ).split(",")
)

# Anti-abuse (the abuse app). Proxies whose X-Forwarded-For is believed (CIDRs, comma-separated;
# empty: the connection's address is the client's). Rate limits per network count /24 (IPv4)
# and /48 (IPv6) prefixes. ALTCHA proof of work: a client tries ALTCHA_MAX_NUMBER / 2 hashes on
# average; a challenge is valid ALTCHA_EXPIRES seconds. Its key: ALTCHA_HMAC_KEY or a key file.
TRUSTED_PROXIES = env_list("TRUSTED_PROXIES", "")
ABUSE_IPV4_PREFIX = int(os.environ.get("ABUSE_IPV4_PREFIX", "24"))
ABUSE_IPV6_PREFIX = int(os.environ.get("ABUSE_IPV6_PREFIX", "48"))
ALTCHA_MAX_NUMBER = int(os.environ.get("ALTCHA_MAX_NUMBER", "100000"))
ALTCHA_EXPIRES = int(os.environ.get("ALTCHA_EXPIRES", "1200"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.request": {"level": "ERROR"},
        # fpdf2 subsets fonts with fontTools, which logs dozens of INFO lines per PDF.
        "fontTools": {"level": "WARNING"},
    },
}

# Live updates (issue 5): the event stream is served by its own asyncio process
# (`gathering live-serve`, started by `gathering serve` on LIVE_PORT). Pages reach it at
# LIVE_PUBLIC_URL when a reverse proxy routes it (e.g. "https://example.org" or "/"), else at
# the page's own host name on LIVE_PORT.
LIVE_PORT = int(os.environ.get("LIVE_PORT", "8001"))
LIVE_PUBLIC_URL = os.environ.get("LIVE_PUBLIC_URL", "")
LIVE_POLL_SECONDS = float(os.environ.get("LIVE_POLL_SECONDS", "0.5"))
LIVE_MAX_CLIENTS = int(os.environ.get("LIVE_MAX_CLIENTS", "20000"))
