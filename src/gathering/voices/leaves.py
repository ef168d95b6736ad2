"""What a signature's leaf in the transparency log commits to, and the receipt of it.

The leaf data is a canonical JSON document (sorted keys, no spaces, UTF-8)::

    {"campaign":"<campaign log slug>","country":"FR","id":"<public id>","salt":"<32 hex>","v":1}

It names neither the signer nor their address: the public id is random, and the salt keeps
anyone from confirming a guess of (id, country) without the receipt. The signer's receipt holds
the same fields plus the leaf's index once the log has integrated it, so anyone can recompute
the leaf hash and check its inclusion in a published tree head (``gathering verify``).
"""

from __future__ import annotations

import json
from typing import Any

LEAF_VERSION = 1


def leaf_fields(*, log_slug: str, public_id: str, country: str, salt: str) -> dict[str, Any]:
    return {
        "campaign": log_slug,
        "country": country,
        "id": public_id,
        "salt": salt,
        "v": LEAF_VERSION,
    }


def leaf_data(*, log_slug: str, public_id: str, country: str, salt: str) -> bytes:
    fields = leaf_fields(log_slug=log_slug, public_id=public_id, country=country, salt=salt)
    return json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
