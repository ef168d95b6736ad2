from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

from gathering.core.translated import set_fallback_language


class FallbackLanguageMiddleware:
    """Clears the per-request fallback language so one request's edition never leaks into the
    next request served by the same thread."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        set_fallback_language(None)
        try:
            return self.get_response(request)
        finally:
            set_fallback_language(None)
