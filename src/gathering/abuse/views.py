"""The proof-of-work challenge endpoint the ALTCHA widget fetches."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views import View

from gathering.abuse import altcha


class AltchaChallengeView(View):
    """A fresh signed challenge per request (no database access). ``no-store``: a cached
    challenge would be solved once and then replayed by everyone behind the cache."""

    http_method_names = ["get", "head", "options"]

    def get(self, request: HttpRequest) -> JsonResponse:
        response = JsonResponse(altcha.create_challenge())
        response["Cache-Control"] = "no-store"
        return response
