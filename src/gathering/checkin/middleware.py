"""The hot path of gate check-in: a gate device's scans, answered without the rest of the stack.

Every online check-in is one ``POST /api/checkin/<year>/gates/<slug>/scans`` of a device with
its bearer token. Through the whole stack, the middleware a device does not use (sessions, CSRF,
authentication, messages, static files), URL resolution and django-ninja's parameter machinery
cost more CPU than deciding and storing the scan. ``DeviceScanMiddleware`` sits right after
``SecurityMiddleware`` and answers such a request itself when it is the plain case: an active
device's token, the device's own gate, a body that is a valid ``ScanBatchIn``, no query but an
optional ``lang``. It answers exactly as the endpoint (``api.answer_scans``, the same code) with
the headers the skipped middleware would add (language, Content-Length, X-Frame-Options);
``SecurityMiddleware`` adds its own as for any request.

Anything else goes down the whole stack untouched, before anything was written: a session,
another gate, a revoked or unknown token, a body that is not JSON or not a valid batch, any
other query, a disallowed host. There ninja gives the documented answer (400, 401, 403, 404,
413, 422). A scan the scanner got wrong (a ``CheckinError``, a 422) also goes that way: the
scans of the batch stored before it are replayed there by their nonces, so nothing is written
twice. The endpoint's OpenAPI document is ninja's, unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core.exceptions import DisallowedHost, RequestDataTooBig
from django.core.handlers.exception import response_for_exception
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django.middleware.common import CommonMiddleware
from django.utils import translation
from pydantic import ValidationError

from gathering.checkin import selectors
from gathering.checkin.api import ScanBatchIn, answer_scans
from gathering.checkin.errors import CheckinError
from gathering.checkin.models import GateDevice
from gathering.core.middleware import LocaleMiddleware
from gathering.core.translated import set_fallback_language

SCANS_PATH = re.compile(r"/api/checkin/([0-9]{1,9})/gates/([^/]+)/scans")

GetResponse = Callable[[HttpRequest], HttpResponseBase]


class DeviceScanMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response
        # What the middleware below this one does to an API request and its answer, for the
        # answers given here.
        self.locale = LocaleMiddleware(get_response)
        self.finishers: list[Callable[[HttpRequest, Any], HttpResponseBase]] = [
            self.locale.process_response,
            CommonMiddleware(get_response).process_response,
            XFrameOptionsMiddleware(get_response).process_response,
        ]
        self.languages = {code for code, _name in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if request.method == "POST" and request.path_info.startswith("/api/checkin/"):
            response = self.answer(request)
            if response is not None:
                return response
        return self.get_response(request)

    def _plain_case(self, request: HttpRequest) -> tuple[GateDevice, ScanBatchIn, str] | None:
        """The device, the batch and the language asked for (or ""), if the request is the
        plain case; None otherwise, having changed nothing."""
        match = SCANS_PATH.fullmatch(request.path_info)
        if match is None:
            return None
        try:
            request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it
        except DisallowedHost:
            return None
        scheme, _space, token = request.META.get("HTTP_AUTHORIZATION", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        device = selectors.get_gate_device(token=token)
        if device is None:
            return None
        gate = device.gate
        if gate.slug != match[2] or gate.edition.year != int(match[1]):
            return None
        query = request.GET
        language = ""
        if query:
            values = query.getlist("lang")
            if len(query) != 1 or len(values) != 1 or values[0] not in self.languages:
                return None
            language = values[0]
        try:
            # As ninja parses a JSON body (json.loads, then the model).
            batch = ScanBatchIn.model_validate(json.loads(request.body))
        except (RequestDataTooBig, ValueError, ValidationError):
            return None
        return device, batch, language

    def answer(self, request: HttpRequest) -> HttpResponseBase | None:
        plain = self._plain_case(request)
        if plain is None:
            return None
        device, batch, language = plain
        # As ninja sets it, for whatever reads it (an error page, a log).
        request.auth = device  # type: ignore[attr-defined]
        set_fallback_language(None)
        try:
            # The language as LocaleMiddleware and then the endpoint's ``lang`` decide it.
            self.locale.process_request(request)
            if language:
                translation.activate(language)
            try:
                response: HttpResponseBase = answer_scans(
                    batch=batch, gate=device.gate, device=device, user=None
                )
            except CheckinError:
                return None  # ninja's 422, through the whole stack
            except Exception as error:  # as Django's handler does: a 500, logged
                response = response_for_exception(request, error)
            for finish in self.finishers:
                response = finish(request, response)
            return response
        finally:
            set_fallback_language(None)
