"""The consent a site coordinator gives when applying (its version is kept with the site).

Hosting a site of this gathering reveals a political opinion: special-category data under GDPR
art. 9, processed only with explicit consent. Change ``VERSION`` whenever a text changes in
substance.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext

VERSION = "satellites-2026-1"
# Contact details are erased this many days after the last day of the edition at the latest
# (``services.erase_expired_contacts``); sooner when the edition keeps personal data for less
# (``Edition.retention_days``, the ``privacy`` app's purge).
RETENTION_DAYS_AFTER_EDITION = 90


@dataclass(frozen=True)
class ConsentText:
    version: str
    purpose: str
    retention: str
    statement: str


def consent_text(
    language: str | None = None, *, retention_days: int = RETENTION_DAYS_AFTER_EDITION
) -> ConsentText:
    """The consent texts in ``language`` (default: the active one); ``retention_days``: when
    the contact is erased (see :data:`RETENTION_DAYS_AFTER_EDITION`)."""
    with translation.override(language or translation.get_language()):
        return ConsentText(
            version=VERSION,
            purpose=gettext(
                "We use your name and email address only to decide on your application, to "
                "create your coordinator account and to reach you about your site. They are "
                "encrypted, shown only to the organisers, and never published. What the public "
                "sees of your site is its name, city, country, venue (or that it is online) and "
                "its attendance. Hosting a site may reveal your political opinions, which the "
                "law protects as sensitive data."
            ),
            retention=gettext(
                "We keep your contact details until %(days)s days after the gathering ends, "
                "then erase them; the site's name, place and attendance remain in the record "
                "of the gathering. You can ask the organisers to erase them sooner."
            )
            % {"days": retention_days},
            statement=gettext(
                "I explicitly consent to the processing of my details, including what they may "
                "reveal about my political opinions, for this purpose and for this period."
            ),
        )
