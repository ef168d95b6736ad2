from __future__ import annotations

from django.core.exceptions import BadRequest


class InvalidQueryError(BadRequest):
    """A query parameter (filter, page, date) that cannot be understood; shown to the visitor."""

    user_message = True
