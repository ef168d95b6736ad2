"""Domain errors of the live app; messages are shown to staff in their language."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _


class AnnouncementError(Exception):
    """An announcement that cannot be posted or withdrawn as asked."""

    def __init__(self, message: object = None) -> None:
        self.message = message or _("This announcement cannot be changed.")
        super().__init__(str(self.message))
