"""Emails to registrants, in their language (HTML with ``lang``/``dir`` and plain text).

Services call :func:`schedule`, which queues the email in the outbox (``gathering.outbox``) in
the service's own transaction: one INSERT, nothing rendered or sent in the request. The worker
renders it later with the builders registered here (:func:`register_kinds`, called from
``RegistrationConfig.ready``) and sends it; a rolled-back registration never emails anyone.
The recipient's address and name are read while scheduling (the registration may be erased
later, and then the builder cancels the email). The ticket email's PDF and QR image are made
at send time from the ticket's id. Failures are logged by the outbox with the row's id, never
the address.
"""

from __future__ import annotations

import datetime as dt
from functools import partial
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from gathering.core.translated import RTL_LANGUAGES, resolve
from gathering.outbox import kinds
from gathering.outbox.errors import CancelEmail
from gathering.outbox.services import queue_email
from gathering.registration.models import Delegation, Registration, Ticket
from gathering.registration.tickets import qr_png, ticket_code, ticket_pdf

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
# Context entries that are moments: queued as ISO 8601 text (the context is JSON), read back
# as aware datetimes for the templates' date filters.
MOMENTS = ("offer_expires_at", "delegation_deadline")


def outbox_kind(kind: str) -> str:
    """The outbox's name for the ``kind`` email ("confirm" → "registration.confirm")."""
    return f"registration.{kind}"


def absolute_url(name: str, *, language: str, **kwargs: Any) -> str:
    """A link for an email: ``SITE_URL`` and the path in the recipient's language."""
    with translation.override(language):
        return settings.SITE_URL + reverse(name, kwargs=kwargs)


def schedule(
    kind: str,
    *,
    registration: Registration,
    token: str | None = None,
    **extra: Any,
) -> None:
    """Queue the ``kind`` email to ``registration`` in the outbox, in the current transaction
    (the worker sends it once that commits). Does nothing for an erased registration.

    ``token`` is the registration's private-link token (links in the email use it; the
    outbox stores it encrypted and erases it once sent). ``extra`` must be JSON values, or
    datetimes under the names in :data:`MOMENTS`.
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
    context: dict[str, Any] = {
        "registration_id": registration.pk,
        "name": registration.name or "",
        "edition_title": dict(edition.title),
        "edition_year": edition.year,
        "edition_tz": edition.timezone,
        "category_name": dict(registration.category.name),
        "offer_expires_at": registration.offer_expires_at,
        "status": str(registration.status),
        "register_url": absolute_url(
            "registration:category-list", language=language, year=edition.year
        ),
        **links,
        **extra,
    }
    for moment in MOMENTS:
        if isinstance(context.get(moment), dt.datetime):
            context[moment] = context[moment].isoformat()
    queue_email(kind=outbox_kind(kind), to=registration.email, language=language, context=context)


def render(kind: str, *, context: dict[str, Any], language: str) -> EmailMultiAlternatives:
    """The ``kind`` message (no recipient yet), rendered in ``language`` and the edition's
    time zone from a context made by :func:`schedule`."""
    context = dict(context)
    for moment in MOMENTS:
        if isinstance(context.get(moment), str):
            context[moment] = dt.datetime.fromisoformat(context[moment])
    with translation.override(language), timezone.override(context["edition_tz"]):
        edition = resolve(context["edition_title"], language)
        context.update(
            edition=edition,
            category=resolve(context["category_name"], language),
            lang=language,
            dir="rtl" if language in RTL_LANGUAGES else "ltr",
            organisation_url=settings.SITE_URL,
        )
        subject = str(SUBJECTS[kind]) % {"edition": edition}
        context["subject"] = subject
        text = render_to_string(f"registration/emails/{kind}.txt", context)
        html = render_to_string(f"registration/emails/{kind}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        headers={"Auto-Submitted": "auto-generated", "Content-Language": language},
    )
    message.attach_alternative(html, "text/html")
    return message


def build(kind: str, context: dict[str, Any], language: str) -> EmailMultiAlternatives:
    """The outbox builder of every registration email (see ``outbox.kinds``).

    Cancels the email (CancelEmail) when its registration was erased since it was queued,
    and a ticket email when the ticket no longer exists or was revoked. The ticket email
    carries the ticket as PDF and its QR code as PNG, made now from ``ticket_id``.
    """
    registration_id = context.get("registration_id")
    if (
        registration_id is not None
        and not Registration.objects.filter(pk=registration_id, email__isnull=False).exists()
    ):
        raise CancelEmail("The registration was erased.")
    message = render(kind, context=context, language=language)
    if kind == "ticket":
        ticket_id = context.get("ticket_id")
        ticket = (
            Ticket.objects.select_related(
                "edition", "registration", "registration__category", "registration__edition"
            )
            .filter(pk=ticket_id)
            .first()
            if isinstance(ticket_id, int)
            else None
        )
        if ticket is None or ticket.is_revoked:
            raise CancelEmail("The ticket is gone or revoked.")
        message.attach("ticket.pdf", ticket_pdf(ticket), "application/pdf")
        message.attach("ticket-qr.png", qr_png(ticket_code(ticket)), "image/png")
    return message


# One builder object per kind, so registering again (ready() may run twice) is a no-op.
_builders: dict[str, kinds.Builder] = {}


def register_kinds() -> None:
    """Register every registration email with the outbox (from ``RegistrationConfig.ready``)."""
    for kind in SUBJECTS:
        kinds.register(outbox_kind(kind), _builders.setdefault(kind, partial(build, kind)))


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
