"""Domain errors of voices, with messages for the signer or moderator (translated)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class VoiceError(Exception):
    """Base class: ``message`` is shown to the visitor in their language."""

    default_message: Promise = _("This signature cannot be processed.")

    def __init__(self, message: Promise | str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class CampaignClosedError(VoiceError):
    default_message = _("This campaign is not open for signatures.")


class InvalidSignatureDataError(VoiceError):
    """The services check again what the form checked; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(_("Please correct the fields marked below."))


class LinkNotValidError(VoiceError):
    default_message = _("This link is not valid. It may have been used already or replaced.")


class ConfirmationExpiredError(VoiceError):
    default_message = _("This confirmation link has expired. Sign again to receive a new one.")


class AlreadyWithdrawnError(VoiceError):
    default_message = _("This signature was withdrawn.")


class SignatureInvalidatedError(VoiceError):
    default_message = _("This signature was set aside by the moderators and is not counted.")


class ModerationError(VoiceError):
    default_message = _("This decision cannot be recorded.")
