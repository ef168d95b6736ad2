from __future__ import annotations

from gathering.core.models import Organisation
from gathering.core.translated import Translated


def get_organisation() -> Organisation:
    """The installation's organisation, or an unsaved placeholder before the demo or set-up."""
    organisation = Organisation.objects.filter(pk=1).first()
    if organisation is None:
        return Organisation(pk=1, name=Translated({"en": "Gathering"}), short_name="Gathering")
    return organisation
