"""The consent a site coordinator gives when applying (its version is kept with the site).

Hosting a site of this gathering reveals a political opinion: special-category data under GDPR
art. 9, processed only with explicit consent. A text that changes in substance needs a new
version in ``HISTORY`` (``privacy/consent_versions.py``: a test compares each text with its
fingerprint).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext

from gathering.privacy.consent_versions import ConsentVersion, current

HISTORY = (
    ConsentVersion(
        "satellites-2026-1",
        since="2026-11-27",
        sha256="33453c54a5f462fc7aeba27c16ad5b89633282383fceb808456133d8efaddfb2",
        note="First version.",
    ),
)
VERSION = current(HISTORY)
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


def retention_days(edition_retention_days: int) -> int:
    """The days after the edition that a site's contact is kept: the edition's period
    (``Edition.retention_days``, the ``privacy`` purge), at most
    :data:`RETENTION_DAYS_AFTER_EDITION` (``services.erase_expired_contacts``)."""
    return min(edition_retention_days, RETENTION_DAYS_AFTER_EDITION)
