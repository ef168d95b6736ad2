from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware import locale
from django.utils import translation
from django.utils.cache import patch_vary_headers

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


class LocaleMiddleware(locale.LocaleMiddleware):
    """Django's, without its search for a language prefix in API paths, which have none: there
    the search ends in a failed look-up, three times per request (a few percent of a check-in).
    The language comes from the cookie or Accept-Language, as Django would decide."""

    UNPREFIXED = "/api/"

    def process_request(self, request: HttpRequest) -> None:
        if not request.path_info.startswith(self.UNPREFIXED):
            super().process_request(request)
            return
        translation.activate(translation.get_language_from_request(request))
        request.LANGUAGE_CODE = translation.get_language()

    def process_response(
        self, request: HttpRequest, response: HttpResponseBase
    ) -> HttpResponseBase:
        if not request.path_info.startswith(self.UNPREFIXED):
            return super().process_response(request, response)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", translation.get_language())
        return response
