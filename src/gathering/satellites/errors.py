"""Domain errors of satellite sites, with messages for the applicant, coordinator or staff."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class SiteError(Exception):
    """Base class: ``message`` is shown to the person in their language."""

    default_message: Promise = _("This cannot be done for this site.")

    def __init__(self, message: Promise | str | None = None) -> None:
        self.message = message if message is not None else self.default_message
        super().__init__(str(self.message))


class InvalidSiteDataError(SiteError):
    """The services check again what the form checked; ``errors`` maps fields to messages."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        self.errors = errors
        super().__init__(_("Please correct the fields marked below."))


class ConsentRequiredError(SiteError):
    default_message = _("Please give your consent to apply.")


class SiteDecisionError(SiteError):
    default_message = _("This application has been decided already.")


class SiteNotApprovedError(SiteError):
    default_message = _("This site is not approved: it cannot report attendance yet.")


class InvalidReportError(SiteError):
    """A report refused outright; ``field`` names the form field it concerns."""

    def __init__(self, message: Promise | str, *, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class ReportDecisionError(SiteError):
    default_message = _("This report has been decided already.")


class ChannelError(SiteError):
    default_message = _("Choose one of this edition's channels.")
