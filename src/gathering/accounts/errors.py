"""Domain errors of staff sign-in, with messages for staff (translated)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class SignInError(Exception):
    """Base class: ``message`` is shown to the staff member in their language, with
    ``status`` as the HTTP status of the answer."""

    default_message: Promise = _("This step of the sign-in cannot be completed.")
    status = 400

    def __init__(self, message: Promise | str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class LockedOutError(SignInError):
    # The same text whatever locked (the account name or the address), and whether or not the
    # account exists.
    default_message = _(
        "Too many failed attempts. Please wait 15 minutes before you try to sign in again."
    )
    status = 429


class InvalidCodeError(SignInError):
    default_message = _("This code is not valid. Check it and try again.")


class NoPendingSetupError(SignInError):
    default_message = _("The set-up of your authenticator app has expired. Please start again.")
    status = 409


class PasskeyError(SignInError):
    default_message = _("The security key could not be verified. Please try again.")


class DuplicateKeyError(PasskeyError):
    default_message = _("This security key is registered already.")
    status = 409


class DuplicateKeyNameError(PasskeyError):
    default_message = _("You already have a security key with this name: choose another one.")
    status = 409


class ReauthenticationRequiredError(SignInError):
    default_message = _(
        "For this change, confirm it is you with your second factor first (security key, "
        "authenticator app or recovery code)."
    )
    status = 403


class ResetNotAllowedError(SignInError):
    default_message = _("You cannot reset the two-factor sign-in of this account.")
    status = 403
