"""The consent a signer gives, as shown on the sign form (its version is kept per signature).

Signing a statement of this movement reveals a political opinion: special-category data under
GDPR art. 9, processed only with explicit consent. The texts below are what the person sees,
including the news opt-in (a consent of its own, recorded as ``Signature.wants_news`` under the
same version). A text that changes in substance needs a new version in ``HISTORY``
(``privacy/consent_versions.py``: a test compares each text with its fingerprint there).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext

from gathering.privacy.consent_versions import ConsentVersion, current

HISTORY = (
    ConsentVersion(
        "voices-2026-1",
        since="2026-11-27",
        sha256="c6e13098e12e757cfc662b5039ca2a0c2e159c3c8b3f1504dd7ab048b02a8b05",
        note="First version: fixed 7 days, kept 'until the results are delivered'.",
    ),
    ConsentVersion(
        "voices-2026-2",
        since="2026-11-28",
        sha256="94d7b7cc540a6066f32fecb545f227e194d576e54dcabb19246485e23257ca32",
        note="The real periods (confirmation, anti-abuse, erasure after the campaign); the news "
        "opt-in is part of the texts.",
    ),
)
VERSION = current(HISTORY)


@dataclass(frozen=True)
class ConsentText:
    version: str
    purpose: str
    retention: str
    statement: str
    # The label of the news opt-in.
    news: str


def consent_text(
    language: str | None = None, *, retention_days: int, abuse_days: int, confirm_days: int
) -> ConsentText:
    """The consent texts in ``language`` (default: the active one). ``retention_days``: the
    edition's (``Edition.retention_days``; the purge erases a signature's details that many
    days after its campaign closes, and not before the edition's own deadline);
    ``abuse_days`` and ``confirm_days``: ``services.ABUSE_WINDOW`` and
    ``services.CONFIRMATION_WINDOW``."""
    with translation.override(language or translation.get_language()):
        return ConsentText(
            version=VERSION,
            purpose=gettext(
                "We use your email address only to confirm your signature, and then keep only "
                "a keyed fingerprint of it that stops anyone signing twice (the address itself "
                "only if you ask for news). Your country is counted publicly; your name, city "
                "and message are shown only as you choose and after moderation. Signing may "
                "reveal your political opinions, which the law protects as sensitive data."
            ),
            retention=gettext(
                "If you do not confirm your signature within %(confirm_days)s days, it is "
                "deleted. A fingerprint of your network and the domain of your email address "
                "are kept for %(abuse_days)s days against abuse, then erased. Your name, city, "
                "message and address, and the fingerprint of your address, are erased "
                "%(days)s days after the campaign closes or the gathering ends, whichever is "
                "later; the count and the public log, which name nobody, remain. You can "
                "withdraw your signature at any time through the private link we email you."
            )
            % {"confirm_days": confirm_days, "abuse_days": abuse_days, "days": retention_days},
            statement=gettext(
                "I explicitly consent to the processing of my details, including what they may "
                "reveal about my political opinions, for this purpose and for this period."
            ),
            news=gettext(
                "Send me news of this campaign (my email address is then kept, encrypted, "
                "until the details of my signature are erased)"
            ),
        )
