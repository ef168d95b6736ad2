"""Domain errors of registration, with messages for the person concerned (translated)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class RegistrationError(Exception):
    """Base class: ``message`` is shown to the visitor in their language."""

    default_message: Promise = _("This registration cannot be processed.")

    def __init__(self, message: Promise | str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class RegistrationClosedError(RegistrationError):
    default_message = _("Registration for this category is not open.")


class InvitationRequiredError(RegistrationError):
    default_message = _("This category is open by invitation only.")


class ConsentRequiredError(RegistrationError):
    default_message = _("Please give your consent to register.")


class InvalidRegistrationDataError(RegistrationError):
    """Input that the form should have refused (the service checks again)."""

    default_message = _("Some of the details given are not valid.")


class RegistrationNotFoundError(RegistrationError):
    default_message = _("This link is not valid. It may have been replaced by a newer one.")


class RegistrationCancelledError(RegistrationError):
    default_message = _("This registration was cancelled.")


class OfferExpiredError(RegistrationError):
    default_message = _("The time to accept this place has passed.")


class NoOfferError(RegistrationError):
    default_message = _("There is no place on offer for this registration.")


class TicketIssueError(RegistrationError):
    default_message = _(
        "A ticket cannot be issued for this category: its entry times are not valid."
    )


class DelegationError(RegistrationError):
    default_message = _("This delegation cannot be changed.")


class DelegationClosedError(DelegationError):
    default_message = _("The deadline for changing this delegation has passed.")
