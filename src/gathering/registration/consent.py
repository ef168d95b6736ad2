"""The consent a registrant gives, as shown on the form and recorded with the registration.

Registering for this gathering reveals a political opinion: special-category data under GDPR
art. 9, processed only with explicit consent. The texts below are what the person sees; the
registration stores the version, the purpose and the retention in the language they were shown
in, and the moment of consent. A text that changes in substance needs a new version in
``HISTORY`` (``privacy/consent_versions.py``: a test compares each text with its fingerprint).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext

from gathering.privacy.consent_versions import ConsentVersion, current

HISTORY = (
    ConsentVersion(
        "registration-2026-1",
        since="2026-11-27",
        sha256="df8a8c1f245560ea1b95d65aa4b328b8a6ba8ce774781428eabfc56f6daa8dfc",
        note="First version.",
    ),
)
VERSION = current(HISTORY)
# Registrations are erased this many days after the last day of their edition: the edition's
# ``retention_days`` (the ``privacy`` app's purge); this is only the default of the text.
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
    """The consent texts in ``language`` (default: the active one); ``retention_days`` is the
    edition's (``Edition.retention_days``: the purge erases the registration then)."""
    with translation.override(language or translation.get_language()):
        return ConsentText(
            version=VERSION,
            purpose=gettext(
                "We use your name, email address, country, phone number and answers only to "
                "organise your attendance: to confirm your registration, send you your "
                "ticket and let you in at the gate. Registering for this gathering may reveal "
                "your political opinions, which the law protects as sensitive data. We "
                "encrypt your details, share them with no one, and never show your name to "
                "gate staff."
            ),
            retention=gettext(
                "We keep your registration until %(days)s days after the gathering ends, then "
                "erase it. You can see, change, download or erase your data at any time "
                "through the private link we email you."
            )
            % {"days": retention_days},
            statement=gettext(
                "I explicitly consent to the processing of my details, including what they may "
                "reveal about my political opinions, for this purpose and for this period."
            ),
        )
