"""The hot path of "add your voice": a signature posted with the public sign form, answered
without the middleware it does not use.

In a surge every request is one ``POST /<lang>/<year>/voices/<slug>/`` by someone without a
session. Through the whole stack, sessions, authentication, messages, staff time-outs, static
files and URL resolution cost about a fifth of what a signature costs, and a signature is the
figure issue 4 counts. ``SignFormMiddleware`` sits right after the check-in hot path and
answers such a request itself when it is the plain case: an allowed host, a language of the
site, a published campaign, no session cookie, Django's own CSRF check (called here, after the
same treatment of ``Origin: null`` as ``FetchMetadataOriginMiddleware``; its refusal, a 403, is
answered here too) and a form that the view's own code (``views.sign_posted``) accepts and signs. The answer is
the view's (a redirect to "check your email"), finished by the same middleware a full request
goes through on its way out (language, common, CSRF cookie, X-Frame-Options).

Anything else goes down the whole stack untouched, before anything was written: another path
or method, a session (staff testing the form), an unknown campaign, a form with
errors or refused by the campaign (closed, invalid fields: ``services.sign`` raises before it
writes). There the view renders the page with its errors, or Django answers 403/404.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.middleware.csrf import CsrfViewMiddleware

from gathering.core.middleware import LocaleMiddleware
from gathering.core.security import trust_same_origin_null
from gathering.core.translated import set_fallback_language
from gathering.voices import selectors
from gathering.voices.models import Campaign

SIGN_PATH = re.compile(r"/([a-z]{2}(?:-[a-z]+)?)/([0-9]{1,9})/voices/([-a-zA-Z0-9_]+)/")

GetResponse = Callable[[HttpRequest], HttpResponseBase]


class SignFormMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
        from gathering.voices.views import (
            CampaignDetailView,
        )  # the URLconf imports this module's app

        self.get_response = get_response
        self.view = CampaignDetailView.as_view()  # for the CSRF check (csrf_exempt or not)
        self.locale = LocaleMiddleware(get_response)
        self.csrf = CsrfViewMiddleware(get_response)
        self.finishers: list[Callable[[HttpRequest, Any], HttpResponseBase]] = [
            self.locale.process_response,
            CommonMiddleware(get_response).process_response,
            self.csrf.process_response,
            XFrameOptionsMiddleware(get_response).process_response,
        ]
        self.languages = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method == "POST" and "/voices/" in request.path_info:
            response = self.answer(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _campaign(self, request: HttpRequest) -> Campaign | None:
        """The campaign posted to, if the request is the plain case so far; None otherwise."""
        match = SIGN_PATH.fullmatch(request.path_info)
        if match is None or match[1] not in self.languages or request.GET:
            return None
        if settings.SESSION_COOKIE_NAME in request.COOKIES:
            return None  # someone signed in: the whole stack (sessions, time-outs)
        try:
            request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
        except DisallowedHost:
            return None
        try:
            return selectors.get_published_campaign(year=int(match[2]), slug=match[3])
        except Campaign.DoesNotExist:
            return None

    def answer(self, request: HttpRequest) -> HttpResponseBase | None:
        from gathering.voices.views import sign_posted

        campaign = self._campaign(request)
        if campaign is None:
            return None
        trust_same_origin_null(request)
        set_fallback_language(campaign.edition.default_language)
        try:
            self.locale.process_request(request)
            # Django's CSRF middleware, as the whole stack runs it (its refusal is the answer).
            self.csrf.process_request(request)
            refused: HttpResponseBase | None
            try:
                refused = self.csrf.process_view(request, self.view, (), {})
            except Exception as error:  # a body Django refuses to read (too large): its 400
                refused = response_for_exception(request, error)
            if refused is not None:
                response: HttpResponseBase = refused
            else:
                try:
                    outcome = sign_posted(request, campaign)
                except Exception as error:  # as Django's handler does: a 500, logged
                    response = response_for_exception(request, error)
                else:
                    if not isinstance(outcome, HttpResponse):
                        return None  # the page with the form's errors, from the view
                    response = outcome
            for finish in self.finishers:
                response = finish(request, response)
            return response
        finally:
            set_fallback_language(None)
