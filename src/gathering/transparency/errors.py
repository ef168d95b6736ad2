"""Domain errors of the transparency log, with messages for API clients (translated)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class TransparencyError(Exception):
    """Base class: ``message`` says what is wrong, in the reader's language."""

    default_message: Promise = _("This request to the transparency log cannot be answered.")

    def __init__(self, message: Promise | str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class LogNotFoundError(TransparencyError):
    default_message = _("There is no transparency log with this id.")


class EntryNotFoundError(TransparencyError):
    default_message = _("The log has no entry at this index (yet).")


class ProofRequestError(TransparencyError):
    """Sizes or indexes that do not fit the log (beyond its size, first above second)."""

    default_message = _("No proof exists for these sizes.")


class EntryTooLargeError(TransparencyError):
    default_message = _("This log entry is too large.")


class InvalidLogIdError(TransparencyError):
    default_message = _("A log id is 1 to 100 letters, digits, '-' or '_'.")
