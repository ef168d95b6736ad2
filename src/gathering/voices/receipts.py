"""A signer's receipt: what lets them check, without trusting us, that their signature is in
the campaign's published log (``gathering verify``)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.conf import settings

from gathering.transparency import merkle
from gathering.transparency import selectors as transparency_selectors
from gathering.transparency.errors import TransparencyError
from gathering.transparency.models import Log
from gathering.voices import leaves
from gathering.voices.models import Campaign, Signature


def log_of(campaign: Campaign) -> Log | None:
    return Log.objects.filter(slug=campaign.log_slug).first()


@dataclass(frozen=True)
class PublishedHead:
    size: int
    root_hex: str
    timestamp: dt.datetime


def latest_tree_head(*, campaign: Campaign) -> PublishedHead | None:
    """The campaign log's latest signed tree head (None before anything was counted)."""
    log = log_of(campaign)
    if log is None:
        return None
    try:
        head = transparency_selectors.get_latest_tree_head(log=log)
    except TransparencyError:
        return None
    return PublishedHead(
        size=head.size,
        root_hex=bytes(head.root).hex(),
        timestamp=dt.datetime.fromtimestamp(head.timestamp_ms / 1000, tz=dt.UTC),
    )


def receipt_for(*, signature: Signature) -> dict[str, Any] | None:
    """The receipt of a counted signature (None if it never counted), in the transparency
    module's format (``merkle.Receipt``: log, index, leaf data in hex) with the leaf's fields
    spelled out and where to fetch the tree head. ``index`` is None until the log has integrated
    the leaf (within seconds); the receipt is complete then."""
    entry = signature.leaf
    if entry is None:
        return None
    campaign = signature.campaign
    fields = {
        "public_id": signature.public_id,
        "country": signature.country,
        "salt": signature.salt,
    }
    data = leaves.leaf_data(log_slug=campaign.log_slug, **fields)
    return {
        "format": merkle.RECEIPT_FORMAT,
        "log": campaign.log_slug,
        "index": entry.index,
        "data": data.hex(),
        "leaf": leaves.leaf_fields(log_slug=campaign.log_slug, **fields),
        "server": settings.SITE_URL,
        "tree_head_url": (
            f"{settings.SITE_URL}/api/transparency/logs/{campaign.log_slug}/tree-head"
        ),
    }
