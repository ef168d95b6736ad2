"""Writes the registration desk and the press officer make for one registrant at a time."""

from __future__ import annotations

import logging

from django.db import transaction

from gathering.registration import emails, selectors
from gathering.registration.errors import RegistrationCancelledError
from gathering.registration.models import Registration
from gathering.registration.services.registrations import _lock_registration, _new_link

logger = logging.getLogger(__name__)


def send_again(*, registration: Registration) -> str:
    """Email the registrant a fresh private link: with their ticket when they have one (the
    "ticket" email, PDF attached), else the email their status calls for (confirm, link). The
    older link stops working. Returns the kind of email queued ("" for an erased person).
    Raises RegistrationCancelledError."""
    with transaction.atomic():
        locked = _lock_registration(registration.pk)
        if locked.status == Registration.Status.CANCELLED:
            raise RegistrationCancelledError
        if locked.email is None:
            return ""
        token = _new_link(locked)
        locked.save(update_fields=["manage_token_hash", "updated_at"])
        ticket = selectors.get_ticket(registration=locked)
        if ticket is not None and ticket.revoked_at is None:
            kind = "ticket"
            emails.schedule(kind, registration=locked, token=token, ticket_id=ticket.pk)
        else:
            kind = "confirm" if locked.status == Registration.Status.PENDING else "link"
            emails.schedule(kind, registration=locked, token=token)
    logger.info("registration_id=%s sent again (%s) by staff", registration.pk, kind)
    return kind
