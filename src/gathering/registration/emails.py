"""Emails to registrants, in their language (HTML with ``lang``/``dir`` and plain text).

Services call :func:`schedule`; the message is rendered and sent over SMTP only once the
transaction commits, so a rolled-back registration never emails anyone. The recipient's
address and name are read while scheduling (the registration may be erased later). A failed
send is logged with the registration's id, never its address.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from email.utils import make_msgid
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from gathering.core.translated import RTL_LANGUAGES, resolve
from gathering.registration.models import Delegation, Registration

logger = logging.getLogger(__name__)

SUBJECTS: dict[str, Promise] = {
    "confirm": _("Please confirm your registration for %(edition)s"),
    "waitlisted": _("You are on the waiting list for %(edition)s"),
    "link": _("Your registration for %(edition)s"),
    "ticket": _("Your ticket for %(edition)s"),
    "offer": _("A place is free for you at %(edition)s"),
    "cancelled": _("Your registration for %(edition)s is cancelled"),
    "member_added": _("You have been added to a delegation to %(edition)s"),
    "delegation": _("Your delegation to %(edition)s: the invitation link"),
}


@dataclass
class Attachment:
    filename: str
    content: bytes
    mimetype: str


@dataclass
class OutgoingEmail:
    kind: str
    registration_id: int
    to: str
    language: str
    context: dict[str, Any]
    attachments: list[Attachment] = field(default_factory=list)


def absolute_url(name: str, *, language: str, **kwargs: Any) -> str:
    """A link for an email: ``SITE_URL`` and the path in the recipient's language."""
    with translation.override(language):
        return settings.SITE_URL + reverse(name, kwargs=kwargs)


def schedule(
    kind: str,
    *,
    registration: Registration,
    token: str | None = None,
    attachments: list[Attachment] | None = None,
    **extra: Any,
) -> None:
    """Send the ``kind`` email to ``registration`` after the current transaction commits.

    ``token`` is the registration's private-link token (links in the email use it).
    """
    if registration.email is None:
        return  # erased: nobody to write to
    language = registration.language
    edition = registration.edition
    links: dict[str, str] = {}
    if token:
        for link, url_name in (
            ("manage_url", "registration:registration-manage"),
            ("confirm_url", "registration:registration-confirm"),
            ("ticket_url", "registration:ticket-detail"),
            ("accept_url", "registration:offer-accept"),
            ("delegation_url", "registration:delegation-manage"),
        ):
            links[link] = absolute_url(url_name, language=language, token=token)
    email = OutgoingEmail(
        kind=kind,
        registration_id=registration.pk,
        to=registration.email,
        language=language,
        context={
            "name": registration.name or "",
            "edition_title": dict(edition.title),
            "edition_year": edition.year,
            "edition_tz": edition.timezone,
            "category_name": dict(registration.category.name),
            "offer_expires_at": registration.offer_expires_at,
            "status": registration.status,
            "register_url": absolute_url(
                "registration:category-list", language=language, year=edition.year
            ),
            **links,
            **extra,
        },
        attachments=attachments or [],
    )
    transaction.on_commit(partial(send_now, email))


def render(email: OutgoingEmail) -> EmailMultiAlternatives:
    """The message, rendered in the recipient's language and the edition's time zone."""
    with translation.override(email.language), timezone.override(email.context["edition_tz"]):
        edition = resolve(email.context["edition_title"], email.language)
        context = {
            **email.context,
            "edition": edition,
            "category": resolve(email.context["category_name"], email.language),
            "lang": email.language,
            "dir": "rtl" if email.language in RTL_LANGUAGES else "ltr",
            "organisation_url": settings.SITE_URL,
        }
        subject = str(SUBJECTS[email.kind]) % {"edition": edition}
        context["subject"] = subject
        text = render_to_string(f"registration/emails/{email.kind}.txt", context)
        html = render_to_string(f"registration/emails/{email.kind}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[email.to],
        headers={
            "Auto-Submitted": "auto-generated",
            "Content-Language": email.language,
            "Message-ID": make_msgid(domain="gathering"),
        },
    )
    message.attach_alternative(html, "text/html")
    for attachment in email.attachments:
        message.attach(attachment.filename, attachment.content, attachment.mimetype)
    return message


def send_now(email: OutgoingEmail) -> bool:
    """Render and send ``email``; log (without the address) and return False on failure."""
    try:
        render(email).send(fail_silently=False)
    except Exception:
        logger.exception(
            "registration email %s to registration_id=%s failed",
            email.kind,
            email.registration_id,
        )
        return False
    logger.info(
        "registration email %s sent to registration_id=%s", email.kind, email.registration_id
    )
    return True


def delegation_context(delegation: Delegation, *, invitation_url: str = "") -> dict[str, Any]:
    return {
        "delegation_city": delegation.city,
        "delegation_deadline": delegation.deadline,
        "invitation_url": invitation_url,
    }


def invitation_url(*, delegation: Delegation, token: str, language: str) -> str:
    return absolute_url(
        "registration:delegation-join",
        language=language,
        year=delegation.edition.year,
        token=token,
    )
