from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _

from gathering.accounts import selectors as accounts_selectors
from gathering.accounts.forms import StaffAuthenticationForm
from gathering.accounts.session import second_factor_done


class StaffLoginView(LoginView):
    """Sign-in for staff only; the public never needs an account.

    Accounts without staff status are refused with the same message as a wrong password. A
    signed-in staff member is sent on to the admin; a signed-in non-staff account sees the form
    (redirecting it would loop: the admin sends it straight back here).

    This is the password step (with lock-out: ``accounts.forms``); the second factor follows
    (``accounts.views``), then the page asked for.
    """

    template_name = "core/staff_login.html"
    authentication_form = StaffAuthenticationForm

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        self.redirect_authenticated_user = bool(
            request.user.is_authenticated and request.user.is_staff
        )
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        # Site coordinators work on their site's pages: the back office would show them nothing.
        return accounts_selectors.staff_home(self.request.user)

    def get_success_url(self) -> str:
        destination = super().get_success_url()
        if second_factor_done(self.request.session):
            return destination
        return f"{reverse('accounts:verify')}?{urlencode({'next': destination})}"


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    message = str(exception) if exception and getattr(exception, "user_message", False) else ""
    return render_error(request, 400, _("Bad request"), message or _("The request was not valid."))


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return render_error(request, 404, _("Page not found"), _("There is nothing at this address."))


def server_error(request: HttpRequest) -> HttpResponse:
    return render_error(
        request, 500, _("Server error"), _("Something went wrong on our side. Please try again.")
    )


def render_error(
    request: HttpRequest, status: int, title: str, message: str, **extra: Any
) -> HttpResponse:
    return render(
        request,
        "core/error.html",
        {"status": status, "title": title, "message": message, **extra},
        status=status,
    )
