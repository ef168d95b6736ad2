"""Whole-page caching for public pages that thousands read and few change.

Every page of a namespace (``"program"``) is cached under a key that holds the namespace's
version; services bump the version in the same transaction as the edit, so a stale page is never
served after the edit commits, whichever process or host serves the next request.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import F
from django.http import HttpRequest, HttpResponse
from django.utils.translation import get_language

from gathering.core.models import CacheVersion

ViewFunc = Callable[..., HttpResponse]
_VERSION_SQL = f"SELECT version FROM {CacheVersion._meta.db_table} WHERE name = %s"  # noqa: S608  # nosec B608 # quoted names from our models; every value is a bound parameter


def get_version(name: str) -> int:
    # Raw SQL: this runs on every cached hit, and building the ORM query cost more than
    # serving the page from the cache (measured with bench/program.py).
    with connection.cursor() as cursor:
        cursor.execute(_VERSION_SQL, [name])
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def bump_version(name: str) -> None:
    """Invalidate every cached page of ``name`` (from the moment the transaction commits)."""
    updated = CacheVersion.objects.filter(name=name).update(version=F("version") + 1)
    if not updated:
        with transaction.atomic():
            _obj, created = CacheVersion.objects.get_or_create(name=name, defaults={"version": 1})
            if not created:
                CacheVersion.objects.filter(name=name).update(version=F("version") + 1)


def cached_page(namespace: str, *, seconds: int | None = None) -> Callable[[ViewFunc], ViewFunc]:
    """Cache a public GET view's 200 responses by namespace version, language, host and path.

    Only anonymous requests are served from the cache: staff previews stay live. ``seconds``
    shortens the lifetime for pages that change with the clock (a countdown, "on now").
    """
    lifetime = settings.PAGE_CACHE_SECONDS if seconds is None else seconds

    def decorator(view: ViewFunc) -> ViewFunc:
        @functools.wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method not in {"GET", "HEAD"} or request.user.is_authenticated:
                return view(request, *args, **kwargs)
            # The host is part of the key: pages carry absolute links (exports, feeds).
            target = f"{request.get_host()}{request.get_full_path()}"
            path = hashlib.blake2b(target.encode(), digest_size=16).hexdigest()
            key = f"page:{namespace}:{get_version(namespace)}:{get_language()}:{path}"
            cached = cache.get(key)
            if cached is not None:
                status, headers, content = cached
                response = HttpResponse(content, status=status)
                for header, value in headers:
                    response.headers[header] = value
                return response
            response = view(request, *args, **kwargs)
            if response.status_code == 200 and not response.streaming:
                if hasattr(response, "render") and not getattr(response, "is_rendered", True):
                    response.render()
                headers = [(k, v) for k, v in response.headers.items() if k.lower() != "set-cookie"]
                cache.set(key, (200, headers, response.content), lifetime)
            return response

        return wrapper

    return decorator
