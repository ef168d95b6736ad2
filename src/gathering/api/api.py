"""The public, read-only JSON API; its OpenAPI document is at /api/openapi.json."""

from ninja import NinjaAPI

api = NinjaAPI(
    title="Gathering API",
    version="1",
    description="Read-only access to the program of every edition.",
    urls_namespace="api",
)
