"""Response hardening that Django's settings cannot express alone.

- ``ContentSecurityPolicyMiddleware``: Django's, with the live server's origin added to
  ``connect-src`` (pages open their event stream there: another port, or another host behind a
  proxy, which ``'self'`` does not cover).
- ``FetchMetadataOriginMiddleware``: lets our own forms through Django's CSRF origin check under
  ``Referrer-Policy: no-referrer`` (see its docstring), the token check unchanged.
- ``NoStoreMiddleware``: ``Cache-Control: no-store`` on answers that may carry personal data and
  said nothing about caching.
- ``embeddable``: the view may be shown in other sites' iframes (both X-Frame-Options and CSP
  ``frame-ancestors`` say so).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.middleware import csp
from django.utils.csp import CSP, build_policy

GetResponse = Callable[[HttpRequest], HttpResponseBase]
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})


def live_origin(request: HttpRequest) -> str | None:
    """The origin of the live server's event stream as pages reach it, or None when it is the
    page's own origin (``LIVE_PUBLIC_URL="/"``) or the host is not allowed."""
    from gathering.live.views import events_url  # the one place that decides the address

    try:
        url = events_url(request, 0)
    except DisallowedHost:
        return None
    parts = urlsplit(url)
    if not parts.scheme or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}"


class ContentSecurityPolicyMiddleware(csp.ContentSecurityPolicyMiddleware):
    """Django's CSP middleware (``SECURE_CSP``, ``SECURE_CSP_REPORT_ONLY``, per-view
    ``csp_override``, nonces), with the live server's origin appended to ``connect-src`` on HTML
    pages (the documents that open the stream; not redirects). Other answers (JSON, files, the gate devices'
    hot path) get the settings' policy as it is, built once rather than on every request."""

    def __init__(self, get_response: GetResponse) -> None:
        super().__init__(get_response)
        # (config, policy): the last policy built without a nonce, reused while the config is
        # that very object (tests that override the setting get theirs built afresh).
        self._built: tuple[object, str] | None = None

    def process_response(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        nonce = csp.get_nonce(request)
        for header, attribute, default in (
            (CSP.HEADER_ENFORCE, "_csp_config", settings.SECURE_CSP),
            (CSP.HEADER_REPORT_ONLY, "_csp_ro_config", settings.SECURE_CSP_REPORT_ONLY),
        ):
            # As Django's: a view's override (``csp_override({})`` turns the policy off), and
            # a header the view set itself stays.
            config: Mapping[str, Any] = getattr(response, attribute, default)
            if not config or header in response:
                continue
            if (
                "connect-src" in config
                and response.get("Content-Type", "").startswith("text/html")
                and not 300 <= response.status_code < 400  # a redirect is never shown
            ):
                origin = live_origin(request)
                if origin and origin not in config["connect-src"]:
                    config = {**config, "connect-src": [*config["connect-src"], origin]}
            response.headers[str(header)] = self._policy(config, nonce)
        return response

    def _policy(self, config: Mapping[str, Any], nonce: Any) -> str:
        if nonce:  # generated for this request: the policy names it
            return build_policy(config, nonce)
        if self._built is not None and self._built[0] is config:
            return self._built[1]
        policy = build_policy(config, None)
        self._built = (config, policy)
        return policy


class FetchMetadataOriginMiddleware:
    """Put before Django's ``CsrfViewMiddleware``.

    Under ``Referrer-Policy: no-referrer`` browsers send ``Origin: null`` on every form post and
    on same-origin ``fetch`` posts, and Django refuses a null origin (it cannot tell our page
    from a sandboxed frame of another site). Chromium, Firefox and Safari also send Fetch
    Metadata to secure origins (HTTPS, localhost): ``Sec-Fetch-Site: same-origin`` means the
    request comes from a page of this very origin, and pages cannot set or change ``Sec-``
    headers. Then, and only then, the null is replaced with the request's own origin, so that
    Django's middleware, unchanged, passes the origin check and still checks the token as for
    any post. Anything else (``cross-site``, ``same-site``, no Fetch Metadata: plain HTTP other
    than localhost, old browsers) keeps its null and is refused as before.
    """

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        trust_same_origin_null(request)
        return self.get_response(request)


def trust_same_origin_null(request: HttpRequest) -> None:
    """What ``FetchMetadataOriginMiddleware`` does to a request (also called by hot paths
    that answer before it)."""
    meta = request.META
    if (
        meta.get("HTTP_ORIGIN") == "null"
        and meta.get("HTTP_SEC_FETCH_SITE") == "same-origin"
        and request.method not in SAFE_METHODS
    ):
        try:
            host = request.get_host()
        except DisallowedHost:
            pass  # Django answers 400 for the host; the null origin stays
        else:
            meta["HTTP_ORIGIN"] = f"{request.scheme}://{host}"


class NoStoreMiddleware:
    """``Cache-Control: no-store`` on answers that did not set Cache-Control themselves and may
    carry personal data: answers to a form or an API call (any method but GET and HEAD: they
    echo what was sent) and every page a signed-in person sees (staff pages, previews of
    unpublished content). Pages by private link use ``never_cache`` themselves. Anonymous GETs
    are untouched: public pages stay cacheable. (No ``Expires`` as ``never_cache`` adds: the
    header stays the same from one second to the next, and ``no-store`` alone forbids any
    cache to keep the answer.)"""

    def __init__(self, get_response: GetResponse) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        response = self.get_response(request)
        if "Cache-Control" not in response and (
            request.method not in {"GET", "HEAD"} or _signed_in(request)
        ):
            response["Cache-Control"] = "no-store"
        return response


def _signed_in(request: HttpRequest) -> bool:
    # Without a session cookie nobody is signed in: reading request.user would load an empty
    # session and add "Vary: Cookie" to public pages for nothing.
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return False
    user = getattr(request, "user", None)
    return bool(user is not None and user.is_authenticated)


def embeddable(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Other sites may show this view in an iframe: no ``X-Frame-Options`` and the policy's
    ``frame-ancestors *`` instead of ``'none'`` (the rest of the policy unchanged)."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        response = view(request, *args, **kwargs)
        response.xframe_options_exempt = True  # type: ignore[attr-defined]
        if settings.SECURE_CSP:
            # As Django's csp_override sets it, read when the response goes out.
            response._csp_config = {**settings.SECURE_CSP, "frame-ancestors": ["*"]}  # type: ignore[attr-defined]
        return response

    return wrapper
