"""Put after Django's ``AuthenticationMiddleware`` and ``MessageMiddleware``.

For every signed-in session:

- time-outs: a session idle for ``ACCOUNTS_IDLE_TIMEOUT`` seconds (30 minutes), or signed in
  ``ACCOUNTS_ABSOLUTE_TIMEOUT`` seconds ago (12 hours), is ended; the person is sent to the
  sign-in page with a message (an API call gets a JSON 401);
- the second factor: a staff session that passed the password step only may reach the
  second-factor pages (under ``/staff/login/``), sign-out and static files. Other pages
  redirect there (and back afterwards); API calls and other non-HTML requests get a JSON 403.

Requests without a session cookie pass untouched, without loading a session: public pages
and the gate devices' API stay as fast as they were.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponseRedirect, JsonResponse
from django.http.response import HttpResponseBase
from django.urls import reverse
from django.utils.translation import gettext as _

from gathering.accounts import services, session
from gathering.audit import services as audit

GetResponse = Callable[[HttpRequest], HttpResponseBase]

# Reachable before the second factor: the sign-in pages (password, second factor, set-up)
# and the ways out.
SIGN_IN_PREFIX = "/staff/login/"
SIGN_OUT_PATHS = ("/staff/logout/", "/admin/logout/")


def wants_json(request: HttpRequest) -> bool:
    """API calls and scripts' requests: under ``/api/``, or asking for JSON and not HTML."""
    accept = request.META.get("HTTP_ACCEPT", "")
    if "text/html" in accept:
        return False
    return request.path_info.startswith("/api/") or "application/json" in accept


def _sign_in_url(next_path: str) -> str:
    return f"{reverse(settings.LOGIN_URL)}?{urlencode({'next': next_path})}"


class StaffSessionMiddleware:
    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        if settings.SESSION_COOKIE_NAME not in request.COOKIES:
            return self.get_response(request)
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        ended = self._timed_out(request)
        if ended is not None:
            return ended
        self._record_new_key(request)
        if session.is_staff_session(request) and not session.second_factor_done(request.session):
            refused = self._second_factor_due(request)
            if refused is not None:
                return refused
        return self.get_response(request)

    def _timed_out(self, request: HttpRequest) -> HttpResponseBase | None:
        store = request.session
        moment = session.now()
        started = store.get(session.SIGNED_IN_AT_SESSION_KEY)
        last_seen = store.get(session.LAST_SEEN_SESSION_KEY)
        if not isinstance(started, int) or not isinstance(last_seen, int):
            # A session from before these clocks existed: they start now.
            store[session.SIGNED_IN_AT_SESSION_KEY] = moment
            store[session.LAST_SEEN_SESSION_KEY] = moment
            return None
        if moment - started > settings.ACCOUNTS_ABSOLUTE_TIMEOUT:
            hours = settings.ACCOUNTS_ABSOLUTE_TIMEOUT // 3600
            return self._end(
                request,
                reason="absolute",
                message=_(
                    "Your session has ended: a sign-in lasts at most %(hours)s hours. "
                    "Please sign in again."
                )
                % {"hours": hours},
            )
        if moment - last_seen > settings.ACCOUNTS_IDLE_TIMEOUT:
            minutes = settings.ACCOUNTS_IDLE_TIMEOUT // 60
            return self._end(
                request,
                reason="idle",
                message=_(
                    "Your session has ended after %(minutes)s minutes without activity. "
                    "Please sign in again."
                )
                % {"minutes": minutes},
            )
        if moment - last_seen >= session.LAST_SEEN_PRECISION:
            store[session.LAST_SEEN_SESSION_KEY] = moment
        return None

    @staticmethod
    def _record_new_key(request: HttpRequest) -> None:
        """The session got a new key since it was recorded (Django cycles it when the password
        changes): record the new one, so that ending the account's sessions still finds it."""
        store = request.session
        key = store.session_key
        recorded = store.get(session.RECORDED_KEY_SESSION_KEY)
        if key and recorded != key:
            services.remember_session(
                user=request.user,
                session_key=key,
                replaces=recorded if isinstance(recorded, str) else None,
            )
            store[session.RECORDED_KEY_SESSION_KEY] = key

    def _end(self, request: HttpRequest, *, reason: str, message: str) -> HttpResponseBase:
        audit.record(request, action="account.session_timeout", summary=f"reason={reason}")
        logout(request)
        if wants_json(request):
            return JsonResponse({"detail": message}, status=401)
        messages.info(request, message)
        return HttpResponseRedirect(_sign_in_url(request.get_full_path()))

    def _second_factor_due(self, request: HttpRequest) -> HttpResponseBase | None:
        path = request.path_info
        if path.startswith((SIGN_IN_PREFIX, settings.STATIC_URL)) or path in SIGN_OUT_PATHS:
            return None
        if wants_json(request):
            return JsonResponse({"detail": _("Complete the two-factor sign-in first.")}, status=403)
        target = reverse("accounts:verify")
        return HttpResponseRedirect(f"{target}?{urlencode({'next': request.get_full_path()})}")
