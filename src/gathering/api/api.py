"""The public, read-only JSON API; its OpenAPI document is at /api/openapi.json and its
interactive docs at /api/docs (served from our own static files, no CDN)."""

from ninja import NinjaAPI, Swagger

from gathering.api.program import router as program_router

api = NinjaAPI(
    title="Gathering API",
    version="1",
    description="Read-only access to the program of every edition.",
    urls_namespace="api",
    # No validator badge: Swagger UI would otherwise send our OpenAPI address to
    # validator.swagger.io from every visitor's browser.
    docs=Swagger(settings={"validatorUrl": None}),
)
api.add_router("", program_router)
