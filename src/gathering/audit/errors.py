"""Domain errors of the audit trail."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class AppendOnlyError(Exception):
    """An audit event was about to be changed or deleted: the trail is append-only."""


class ExportRequestError(Exception):
    """A step of an export request that cannot be taken: ``message`` is shown (translated),
    with ``status`` as the page's HTTP status."""

    default_message: Promise = _("This export request cannot be processed.")
    status = 409

    def __init__(self, message: Promise | str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class OwnRequestError(ExportRequestError):
    default_message = _("Another organiser must decide on your own request.")
    status = 403


class NotApproverError(ExportRequestError):
    default_message = _("Only organisers can approve or refuse export requests.")
    status = 403


class AlreadyDecidedError(ExportRequestError):
    default_message = _("This request has been decided already.")


class RequestTooOldError(ExportRequestError):
    default_message = _("This request waited too long for a decision: ask again.")


class NotApprovedError(ExportRequestError):
    default_message = _("This export has not been approved: it cannot be downloaded.")
    status = 403


class DownloadExpiredError(ExportRequestError):
    default_message = _(
        "This export can no longer be downloaded (its time or its downloads are used up): "
        "ask again."
    )
    status = 410


class ExportNotAllowedError(ExportRequestError):
    default_message = _("Your role does not allow this export.")
    status = 403
