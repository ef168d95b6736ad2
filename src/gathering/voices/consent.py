"""The consent a signer gives, as shown on the sign form (its version is kept per signature).

Signing a statement of this movement reveals a political opinion: special-category data under
GDPR art. 9, processed only with explicit consent. Change ``VERSION`` whenever a text changes in
substance.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext

VERSION = "voices-2026-1"


@dataclass(frozen=True)
class ConsentText:
    version: str
    purpose: str
    retention: str
    statement: str


def consent_text(language: str | None = None) -> ConsentText:
    """The consent texts in ``language`` (default: the active one)."""
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
                "A fingerprint of your network is kept for 7 days against abuse, then erased. "
                "Your signature is kept until the campaign's results are delivered, then your "
                "name, city and message are erased; the count and the public log remain. You "
                "can withdraw your signature at any time through the private link we email you."
            ),
            statement=gettext(
                "I explicitly consent to the processing of my details, including what they may "
                "reveal about my political opinions, for this purpose and for this period."
            ),
        )
