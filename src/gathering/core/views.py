from __future__ import annotations

from typing import Any

from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _


class StaffLoginView(LoginView):
    """Sign-in for staff only; the public never needs an account."""

    template_name = "core/staff_login.html"
    redirect_authenticated_user = True


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
