"""The scanner web app for phones at the gates, and its service worker.

The page is a server-rendered shell; ``static/checkin/scanner.js`` does the scanning, verifies
codes offline with the gate bundle (``registration/ticket-verify.js``), queues scans while the
network is down and sends them to the check-in API. Every text the script shows comes from the
template's data attributes, in the page's language. No inline script or style: the page works
under a Content-Security-Policy without 'unsafe-inline'.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.staticfiles import finders
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.decorators import method_decorator
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import ensure_csrf_cookie

from gathering.checkin import selectors
from gathering.checkin.models import Direction, Gate
from gathering.checkin.permissions import is_gate_staff
from gathering.checkin.services import message_templates
from gathering.core.translated import RTL_LANGUAGES, set_fallback_language
from gathering.core.views import render_error
from gathering.program.models import Edition
from gathering.registration.models import KIND_CODES

# The files the service worker keeps for offline use (besides the scanner pages themselves).
OFFLINE_ASSETS = (
    "checkin/scanner.css",
    "checkin/scanner.js",
    "checkin/vendor/jsqr/jsQR.js",
    "registration/ticket-verify.js",
)
SCOPE = "/staff/scanner/"


def _activate_requested_language(request: HttpRequest) -> None:
    # The scanner lives outside the /en/, /fa/, /fr/ prefixes: ?lang= picks the language.
    requested = request.GET.get("lang", "")
    if requested in {code for code, _name in settings.LANGUAGES}:
        translation.activate(requested)
        request.LANGUAGE_CODE = requested


def _forbidden(request: HttpRequest) -> HttpResponse:
    return render_error(
        request,
        403,
        _("Not allowed"),
        _("Only gate staff and organisers can use the scanner."),
    )


@method_decorator(login_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
class ScannerGateListView(View):
    """The gates of an edition, to pick the one this phone scans at."""

    def get(self, request: HttpRequest, year: int) -> HttpResponse:
        _activate_requested_language(request)
        if not is_gate_staff(request.user):
            return _forbidden(request)
        try:
            edition = selectors.get_edition(year=year)
        except Edition.DoesNotExist:
            raise Http404(_("There is no edition of this year.")) from None
        set_fallback_language(edition.default_language)
        return render(
            request,
            "checkin/gate_list.html",
            {
                "edition": edition,
                "gates": selectors.list_gates(edition=edition),
                **_page_context(),
            },
        )


@method_decorator(login_required, name="dispatch")
@method_decorator(never_cache, name="dispatch")
@method_decorator(ensure_csrf_cookie, name="dispatch")
class ScannerView(View):
    """The scanner for one gate. The CSRF cookie is set here: the script sends it back with
    each batch of scans (the API checks it for session sign-ins)."""

    def get(self, request: HttpRequest, year: int, slug: str) -> HttpResponse:
        _activate_requested_language(request)
        if not is_gate_staff(request.user):
            return _forbidden(request)
        try:
            gate = selectors.get_gate(year=year, slug=slug)
        except Gate.DoesNotExist:
            raise Http404(_("There is no such gate.")) from None
        edition = gate.edition
        set_fallback_language(edition.default_language)
        language = get_language() or settings.LANGUAGE_CODE
        categories = {int(code): str(kind.label) for kind, code in KIND_CODES.items()}
        gates = {
            other.slug: str(other.name) or other.slug
            for other in selectors.list_gates(edition=edition)
        }
        config = {
            "year": edition.year,
            "gate": gate.slug,
            "gateName": str(gate.name) or gate.slug,
            "timeZone": edition.timezone,
            "language": language,
            "bundleUrl": reverse("api:checkin-bundle", kwargs={"year": edition.year}),
            "scansUrl": reverse(
                "api:checkin-scans", kwargs={"year": edition.year, "slug": gate.slug}
            ),
            "verifyUrl": static("registration/ticket-verify.js"),
            "serviceWorkerUrl": reverse("checkin:service-worker"),
            "scope": SCOPE,
            "csrfCookie": settings.CSRF_COOKIE_NAME,
            "loginUrl": reverse(settings.LOGIN_URL) + "?next=" + request.get_full_path(),
            "categories": categories,
            "gates": gates,
        }
        messages = {
            **message_templates(),
            "title_ok": _("Valid"),
            "title_bad": _("Not valid"),
            "title_exit_ok": _("Exit recorded"),
            "nonce_reused": _("This scan was refused by the server: scan again."),
            "no_bundle": _(
                "No revocation list on this phone yet: connect once to the network to download it."
            ),
            "decided_offline": _(
                "Checked on this phone; it will be sent when the network is back."
            ),
            "online": _("Online"),
            "offline": _("Offline: scans are checked on this phone and sent later."),
            "queue": _("Waiting to be sent: %(count)s"),
            "bundle": _("Revocation list of %(time)s: %(count)s cancelled tickets"),
            "signed_out": _("Signed out: sign in again to send the waiting scans."),
            "camera_unavailable": _(
                "The camera cannot be used here: enter the code or choose a photo instead."
            ),
            "camera_denied": _("Camera access was refused."),
            "no_qr": _("No QR code found in this image."),
        }
        return render(
            request,
            "checkin/scanner.html",
            {
                "edition": edition,
                "gate": gate,
                "config_json": json.dumps(config, ensure_ascii=False),
                "messages_json": json.dumps(messages, ensure_ascii=False),
                "directions": Direction.choices,
                **_page_context(),
            },
        )


def _page_context() -> dict[str, Any]:
    current = get_language() or settings.LANGUAGE_CODE
    native = {"en": "English", "fa": "فارسی", "fr": "Français"}
    return {
        "languages": [
            {"code": code, "name": native.get(code, str(name)), "current": code == current}
            for code, name in settings.LANGUAGES
        ],
        "page_dir": "rtl" if current in RTL_LANGUAGES else "ltr",
    }


@cache
def _assets_version() -> str:
    """Changes whenever an offline asset changes, so the worker refreshes its cache."""
    digest = hashlib.sha256()
    for name in OFFLINE_ASSETS:
        digest.update(static(name).encode())
        path = finders.find(name)
        if isinstance(path, str):
            with open(path, "rb") as handle:
                digest.update(handle.read())
    return digest.hexdigest()[:16]


class ServiceWorkerView(View):
    """The service worker, served from under /staff/scanner/ so that its scope covers the
    scanner pages. It holds no secret (only the addresses of static files), so it needs no
    sign-in; browsers re-check it on every visit (no-cache)."""

    def get(self, request: HttpRequest) -> HttpResponse:
        response = render(
            request,
            "checkin/service-worker.js",
            {
                "version": _assets_version(),
                "assets_json": json.dumps([static(name) for name in OFFLINE_ASSETS]),
                "scope_json": json.dumps(SCOPE),
            },
            content_type="text/javascript; charset=utf-8",
        )
        response["Cache-Control"] = "no-cache"
        response["Service-Worker-Allowed"] = SCOPE
        return response
