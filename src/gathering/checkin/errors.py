"""Domain errors of gate check-in, with messages for gate staff (translated)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class CheckinError(Exception):
    """Base class: ``message`` is shown to gate staff in their language."""

    default_message: Promise = _("This scan cannot be processed.")

    def __init__(self, message: Promise | str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class NonceReusedError(CheckinError):
    # Translators: a scan id is the random identifier a scanner gives each scan.
    default_message = _(
        "This scan id was already used for another code or gate: the scanner must give each "
        "scan its own id."
    )


class InvalidScanError(CheckinError):
    default_message = _("The scan's data is not valid.")
