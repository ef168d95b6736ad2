"""One person, one signature: the canonical form of an email address.

Two spellings of one mailbox must collide, so that a second signature with the same address in
another spelling is found: case is ignored everywhere (in practice every provider ignores it),
a ``+tag`` after the local part is dropped (sub-addressing, which most providers deliver to the
same mailbox), and dots in the local part are dropped where the provider ignores them (Gmail).
The domain is lower-cased and IDNA-encoded, so ``ÉXAMPLE.org`` and ``xn--xample-9ua.org`` meet.
Over-merging two real people is the safe side of this trade-off: the count can only be lower.
"""

from __future__ import annotations

import contextlib
import unicodedata

# Providers that ignore dots in the local part, and their aliases.
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
DOMAIN_ALIASES = {"googlemail.com": "gmail.com"}


def canonical_domain(domain: str) -> str:
    domain = unicodedata.normalize("NFC", domain).strip().rstrip(".").lower()
    # Not a valid IDN: keep the lower-cased text (it still only collides with itself).
    with contextlib.suppress(UnicodeError):
        domain = domain.encode("idna").decode("ascii")
    return DOMAIN_ALIASES.get(domain, domain)


def canonical_email(email: str) -> str:
    """``email`` (already validated) in the form two spellings of one mailbox share."""
    local, _at, domain = unicodedata.normalize("NFC", email).strip().rpartition("@")
    local = local.lower()
    domain = canonical_domain(domain)
    local = local.split("+", 1)[0] or local
    if domain in DOTLESS_DOMAINS:
        local = local.replace(".", "") or local
    return f"{local}@{domain}"


def email_domain(email: str) -> str:
    """The canonical domain of ``email`` (for the anti-abuse limits and moderators)."""
    return canonical_domain(email.rpartition("@")[2])
