"""The voices part of the JSON API (mounted at /api/voices/)."""

from ninja import Router

router = Router(tags=["voices"])
