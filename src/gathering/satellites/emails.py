"""Emails to site coordinators, rendered by the outbox worker at send time in their language.

The queued context holds ids only. The link to choose a password is made here, at send time,
with Django's password-reset token generator: it is never stored, and it stops working once a
password is set (or after ``PASSWORD_RESET_TIMEOUT``).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _

from gathering.core.translated import RTL_LANGUAGES, resolve
from gathering.outbox.errors import CancelEmail
from gathering.satellites.models import Site


def _url(name: str, *, language: str, **kwargs: Any) -> str:
    with translation.override(language):
        return settings.SITE_URL + reverse(name, kwargs=kwargs)


def _message(
    template: str, values: dict[str, Any], *, subject: str, language: str
) -> EmailMultiAlternatives:
    values = {
        **values,
        "subject": subject,
        "lang": language,
        "dir": "rtl" if language in RTL_LANGUAGES else "ltr",
    }
    text = render_to_string(f"satellites/emails/{template}.txt", values)
    html = render_to_string(f"satellites/emails/{template}.html", values)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        headers={"Auto-Submitted": "auto-generated", "Content-Language": language},
    )
    message.attach_alternative(html, "text/html")
    return message


def build_approved(context: dict[str, Any], language: str) -> EmailMultiAlternatives:
    site = Site.objects.select_related("edition").filter(pk=context["site_id"]).first()
    user = User.objects.filter(pk=context["user_id"], is_active=True).first()
    if (
        site is None
        or user is None
        or site.status != Site.Status.APPROVED
        or site.coordinator_id != user.pk
    ):
        raise CancelEmail
    with translation.override(language):
        dashboard_path = reverse("satellites:site-dashboard", kwargs={"pk": site.pk})
        sign_in_url = (
            settings.SITE_URL
            + reverse("core:staff-login")
            + "?"
            + urlencode({"next": dashboard_path})
        )
        set_password_url = ""  # nosec B105 # an address, empty when not needed
        if not user.has_usable_password():
            set_password_url = _url(
                "satellites:password-set",
                language=language,
                uidb64=urlsafe_base64_encode(force_bytes(user.pk)),
                token=default_token_generator.make_token(user),
            )
        subject = _("Your satellite site is approved: %(name)s") % {"name": site.name}
        return _message(
            "approved",
            {
                "site": site,
                "edition_title": resolve(dict(site.edition.title), language),
                "username": user.get_username(),
                "sign_in_url": sign_in_url,
                "set_password_url": set_password_url,
                "site_url": _url(
                    "satellites:site-detail",
                    language=language,
                    year=site.edition.year,
                    slug=site.slug,
                ),
                "title": subject,
            },
            subject=subject,
            language=language,
        )


def build_rejected(context: dict[str, Any], language: str) -> EmailMultiAlternatives:
    site = Site.objects.select_related("edition").filter(pk=context["site_id"]).first()
    if site is None or site.status != Site.Status.REJECTED:
        raise CancelEmail
    with translation.override(language):
        subject = _("Your application for a satellite site: %(name)s") % {"name": site.name}
        return _message(
            "rejected",
            {
                "site": site,
                "edition_title": resolve(dict(site.edition.title), language),
                "title": subject,
            },
            subject=subject,
            language=language,
        )
