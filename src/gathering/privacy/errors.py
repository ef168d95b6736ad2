"""Domain errors of the privacy app, with messages for the staff member concerned (translated)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class PrivacyError(Exception):
    """Base class: ``message`` is shown in the user's language."""

    default_message: Promise = _("This request cannot be processed.")

    def __init__(self, message: Promise | str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class InvalidEmailError(PrivacyError):
    default_message = _("Enter a valid email address.")


class InvalidReferenceError(PrivacyError):
    default_message = _("Enter the reference of the request.")
