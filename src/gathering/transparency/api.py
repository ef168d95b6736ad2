"""The transparency part of the JSON API (mounted at /api/transparency/)."""

from ninja import Router

router = Router(tags=["transparency"])
