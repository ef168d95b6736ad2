"""Pages of staff sign-in: the second factor, its set-up, and each staff member's security page.

Views are thin: forms check the input, ``services`` do the writes, ``selectors`` the reads.
Script endpoints (WebAuthn ceremonies) take and give JSON; their errors are
``{"detail": "<message in the user's language>"}``.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LogoutView
from django.core.exceptions import RequestDataTooBig
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache

from gathering.accounts import passkeys, selectors, services, session, totp
from gathering.accounts.errors import (
    LockedOutError,
    ReauthenticationRequiredError,
    SignInError,
)
from gathering.accounts.forms import SecondFactorCodeForm, SecurityKeyNameForm, TotpConfirmForm
from gathering.core.selectors import get_organisation
from gathering.core.views import render_error
from gathering.registration.tickets import qr_svg

RESET = "accounts.reset_totpdevice"
# A WebAuthn answer is a few kilobytes; anything much larger is not one.
MAX_JSON_BYTES = 64 * 1024


def next_url(request: HttpRequest) -> str:
    """The page to go back to (``next``, if it is on this site), else the staff home."""
    value = request.POST.get("next") or request.GET.get("next") or ""
    if value and url_has_allowed_host_and_scheme(
        value, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return value
    return selectors.staff_home(request.user)


def _with_next(url: str, next_value: str) -> str:
    return f"{url}?{urlencode({'next': next_value})}"


def _json_body(request: HttpRequest) -> dict[str, Any] | None:
    if len(request.body) > MAX_JSON_BYTES:
        return None
    try:
        data = json.loads(request.body)
    except (ValueError, RecursionError):  # UnicodeDecodeError is a ValueError
        return None
    return data if isinstance(data, dict) else None


def _json_error(message: object, status: int) -> JsonResponse:
    return JsonResponse({"detail": str(message)}, status=status)


def _issuer() -> str:
    organisation = get_organisation()
    return organisation.short_name or str(organisation) or "Gathering"


class StaffView(View):
    """Signed-in staff only (anonymous: the sign-in page; other accounts: 403). Never cached."""

    @method_decorator(never_cache)
    @method_decorator(login_required)
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if not session.is_staff_session(request):
            return render_error(
                request, 403, _("Not allowed"), _("These pages are for staff accounts only.")
            )
        return super().dispatch(request, *args, **kwargs)


class JsonStaffView(StaffView):
    """A script's endpoint: a JSON answer even for errors."""

    def handle_exception_json(self, error: SignInError) -> JsonResponse:
        return _json_error(error.message, error.status)


# --- the second factor at sign-in (and to confirm a sensitive change) -----------------------


class SecondFactorView(StaffView):
    template_name = "accounts/verify.html"

    def context(self, request: HttpRequest, form: SecondFactorCodeForm) -> dict[str, Any]:
        return {
            "form": form,
            "next": next_url(request),
            "has_key": selectors.has_security_key(request.user),
            "keys_work_here": passkeys.host_supported(request),
            "reconfirm": session.second_factor_done(request.session),
        }

    def get(self, request: HttpRequest) -> HttpResponseBase:
        if not selectors.has_second_factor(request.user):
            return HttpResponseRedirect(_with_next(reverse("accounts:enrol"), next_url(request)))
        return render(request, self.template_name, self.context(request, SecondFactorCodeForm()))

    def post(self, request: HttpRequest) -> HttpResponseBase:
        if not selectors.has_second_factor(request.user):
            return HttpResponseRedirect(_with_next(reverse("accounts:enrol"), next_url(request)))
        form = SecondFactorCodeForm(request.POST)
        if form.is_valid():
            try:
                method = services.check_code(
                    request, user=request.user, code=form.cleaned_data["code"]
                )
            except LockedOutError as error:
                return self.locked_out(request, error)
            except SignInError as error:
                form.add_error("code", str(error.message))
            else:
                destination = next_url(request)
                services.complete_second_factor(request, method=method)
                return HttpResponseRedirect(destination)
        return render(request, self.template_name, self.context(request, form), status=400)

    @staticmethod
    def locked_out(request: HttpRequest, error: SignInError) -> HttpResponseBase:
        """Too many failures: a session still at the password step ends (the password step
        refuses the account too while the lock lasts); a signed-in one stays, refused."""
        if session.second_factor_done(request.session):
            messages.error(request, str(error.message))
            return HttpResponseRedirect(reverse("accounts:security"))
        logout(request)
        messages.error(request, str(error.message))
        return HttpResponseRedirect(reverse("core:staff-login"))


class SecondFactorKeyOptionsView(JsonStaffView):
    """POST: options for ``navigator.credentials.get()`` with the account's security keys."""

    def post(self, request: HttpRequest) -> HttpResponseBase:
        if not passkeys.host_supported(request) or not selectors.has_security_key(request.user):
            return _json_error(_("Security keys cannot be used at this address."), 400)
        try:
            services.ensure_not_locked(request, user=request.user)
        except LockedOutError as error:
            return self.handle_exception_json(error)
        return JsonResponse(passkeys.authentication_options(request, user=request.user))


class SecondFactorKeyView(JsonStaffView):
    """POST ``{"credential": <the browser's answer>, "next": "/…"}``: ``{"redirect": url}``."""

    def post(self, request: HttpRequest) -> HttpResponseBase:
        try:
            body = _json_body(request)
        except RequestDataTooBig:
            body = None
        if body is None:
            return _json_error(_("The request is not valid."), 400)
        try:
            method = services.check_security_key(
                request, user=request.user, credential=body.get("credential")
            )
        except LockedOutError as error:
            answer = self.handle_exception_json(error)
            if not session.second_factor_done(request.session):
                logout(request)
            return answer
        except SignInError as error:
            return self.handle_exception_json(error)
        destination = body.get("next")
        if not isinstance(destination, str) or not url_has_allowed_host_and_scheme(
            destination, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            destination = selectors.staff_home(request.user)
        services.complete_second_factor(request, method=method)
        return JsonResponse({"redirect": destination})


# --- setting up the first factor ------------------------------------------------------------


def _totp_context(request: HttpRequest, form: TotpConfirmForm) -> dict[str, Any]:
    device = services.pending_totp(user=request.user)
    uri = totp.provisioning_uri(
        device.secret, account=request.user.get_username(), issuer=_issuer()
    )
    grouped = " ".join(device.secret[i : i + 4] for i in range(0, len(device.secret), 4))
    return {
        "form": form,
        "secret": grouped,
        "qr": qr_svg(uri, label=_("QR code for your authenticator app")),
        "next": next_url(request),
    }


class EnrolView(StaffView):
    """The forced set-up of an account without a second factor: an authenticator app (its
    secret as a QR code and as text), confirmed with a code; then the recovery codes, once."""

    template_name = "accounts/enrol.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        user = request.user
        if user.is_authenticated and selectors.has_second_factor(user):
            return HttpResponseRedirect(_with_next(reverse("accounts:verify"), next_url(request)))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponseBase:
        return render(request, self.template_name, _totp_context(request, TotpConfirmForm()))

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = TotpConfirmForm(request.POST)
        if form.is_valid():
            try:
                codes = services.confirm_totp(
                    request, user=request.user, code=form.cleaned_data["code"]
                )
            except SignInError as error:
                form.add_error("code", str(error.message))
            else:
                destination = next_url(request)
                services.complete_second_factor(request, method=services.TOTP)
                return render_recovery_codes(request, codes, destination)
        return render(request, self.template_name, _totp_context(request, form), status=400)


def render_recovery_codes(request: HttpRequest, codes: list[str], destination: str) -> HttpResponse:
    """The recovery codes, shown this once (the answer to the POST that made them: nothing
    keeps them but their hashes)."""
    return render(
        request, "accounts/recovery_codes.html", {"codes": codes, "destination": destination}
    )


# --- the security page ----------------------------------------------------------------------


def _reconfirm(request: HttpRequest, back_to: str) -> HttpResponseRedirect:
    messages.info(request, str(ReauthenticationRequiredError.default_message))
    return HttpResponseRedirect(_with_next(reverse("accounts:verify"), back_to))


class SecurityView(StaffView):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        overview = selectors.get_security_overview(request.user)
        return render(
            request,
            "accounts/security.html",
            {
                "overview": overview,
                "recent": session.recently_confirmed(request.session),
                "keys_work_here": passkeys.host_supported(request),
                "name_form": SecurityKeyNameForm(),
                "can_reset_others": request.user.has_perm(RESET),
            },
        )


class SensitiveView(StaffView):
    """A change to the account's second factors: the second factor must have been completed
    within ``ACCOUNTS_REAUTH_SECONDS``, else the person confirms it first."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and not session.recently_confirmed(request.session):
            return self.reconfirm(request)
        return super().dispatch(request, *args, **kwargs)

    def reconfirm(self, request: HttpRequest) -> HttpResponseBase:
        back_to = request.path if request.method == "GET" else reverse("accounts:security")
        return _reconfirm(request, back_to)


class SensitiveJsonView(SensitiveView):
    def reconfirm(self, request: HttpRequest) -> HttpResponseBase:
        return _json_error(ReauthenticationRequiredError.default_message, 403)


class TotpReplaceView(SensitiveView):
    """A new authenticator app in place of the current one (which works until then)."""

    template_name = "accounts/totp_replace.html"

    def get(self, request: HttpRequest) -> HttpResponseBase:
        return render(request, self.template_name, _totp_context(request, TotpConfirmForm()))

    def post(self, request: HttpRequest) -> HttpResponseBase:
        form = TotpConfirmForm(request.POST)
        if form.is_valid():
            try:
                codes = services.confirm_totp(
                    request, user=request.user, code=form.cleaned_data["code"]
                )
            except SignInError as error:
                form.add_error("code", str(error.message))
            else:
                messages.success(request, _("Your new authenticator app is set up."))
                if codes:
                    return render_recovery_codes(request, codes, reverse("accounts:security"))
                return HttpResponseRedirect(reverse("accounts:security"))
        return render(request, self.template_name, _totp_context(request, form), status=400)


class RecoveryCodesView(SensitiveView):
    """POST: new recovery codes (the old ones stop working), shown once."""

    def post(self, request: HttpRequest) -> HttpResponseBase:
        codes = services.regenerate_recovery_codes(request, user=request.user)
        return render_recovery_codes(request, codes, reverse("accounts:security"))


class SecurityKeyOptionsView(SensitiveJsonView):
    """POST: options for ``navigator.credentials.create()``."""

    def post(self, request: HttpRequest) -> HttpResponseBase:
        if not passkeys.host_supported(request):
            return _json_error(_("Security keys cannot be used at this address."), 400)
        return JsonResponse(
            passkeys.registration_options(request, user=request.user, rp_name=_issuer())
        )


class SecurityKeyAddView(SensitiveJsonView):
    """POST ``{"name": "…", "credential": <the browser's answer>}``: ``{"redirect": url}``."""

    def post(self, request: HttpRequest) -> HttpResponseBase:
        try:
            body = _json_body(request)
        except RequestDataTooBig:
            body = None
        if body is None:
            return _json_error(_("The request is not valid."), 400)
        name = body.get("name")
        form = SecurityKeyNameForm({"name": name if isinstance(name, str) else ""})
        if not form.is_valid():
            return _json_error(" ".join(str(error) for error in form.errors["name"]), 400)
        try:
            services.add_security_key(
                request,
                user=request.user,
                name=form.cleaned_data["name"],
                credential=body.get("credential"),
            )
        except SignInError as error:
            return _json_error(error.message, error.status)
        messages.success(request, _("Your security key is registered."))
        return JsonResponse({"redirect": reverse("accounts:security")})


class SecurityKeyRemoveView(SensitiveView):
    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        if services.remove_security_key(request, user=request.user, key_id=pk):
            messages.success(request, _("The security key is removed."))
        else:
            messages.error(request, _("This security key does not exist (any more)."))
        return HttpResponseRedirect(reverse("accounts:security"))


# --- organisers: other staff members' second factors ----------------------------------------


class OrganiserView(StaffView):
    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        if request.user.is_authenticated and not request.user.has_perm(RESET):
            return render_error(
                request,
                403,
                _("Not allowed"),
                _("Only organisers can reset other staff members' two-factor sign-in."),
            )
        return super().dispatch(request, *args, **kwargs)


class StaffAccountListView(OrganiserView):
    def get(self, request: HttpRequest) -> HttpResponseBase:
        return render(
            request,
            "accounts/staff_list.html",
            {"accounts": selectors.list_staff_accounts(), "me": request.user.pk},
        )


class StaffAccountResetView(OrganiserView):
    """GET: confirm; POST: reset (after a recent second factor of the organiser)."""

    def get(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        account = get_object_or_404(selectors.list_staff_accounts(), pk=pk)
        return render(request, "accounts/staff_reset.html", {"account": account})

    def post(self, request: HttpRequest, pk: int) -> HttpResponseBase:
        account = get_object_or_404(selectors.list_staff_accounts(), pk=pk)
        if not session.recently_confirmed(request.session):
            return _reconfirm(request, reverse("accounts:staff-reset", args=[pk]))
        try:
            services.reset_second_factors(request, user=account, by=request.user)
        except SignInError as error:
            messages.error(request, str(error.message))
        else:
            messages.success(
                request,
                _(
                    "The two-factor sign-in of %(username)s is reset: they set it up again at "
                    "their next sign-in."
                )
                % {"username": account.get_username()},
            )
        return HttpResponseRedirect(reverse("accounts:staff-list"))


class StaffLogoutView(LogoutView):
    next_page = "core:staff-login"
