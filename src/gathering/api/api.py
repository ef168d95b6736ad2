"""The JSON API; its OpenAPI document is at /api/openapi.json and its interactive docs at
/api/docs (served from our own static files, no CDN). The program is public and read-only; the
check-in endpoints (/api/checkin/) need a gate device token or a gate staff session."""

from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import ValidationError
from ninja.openapi.schema import OpenAPISchema

from gathering.api.program import router as program_router
from gathering.checkin.api import router as checkin_router
from gathering.transparency.api import router as transparency_router
from gathering.voices.api import router as voices_router


class GatheringAPI(NinjaAPI):
    """Builds its OpenAPI document once per process: building it takes about half a second of
    CPU, which anyone could otherwise ask for again and again (the routes never change while
    the process runs)."""

    _schemas: dict[str, OpenAPISchema]

    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        if path_prefix is None:
            path_prefix = self.get_root_path(path_params or {})
        cached: dict[str, OpenAPISchema] = self.__dict__.setdefault("_schemas", {})
        if path_prefix not in cached:
            cached[path_prefix] = super().get_openapi_schema(path_prefix=path_prefix)
        return cached[path_prefix]


api = GatheringAPI(
    title="Gathering API",
    version="1",
    description=(
        "Read-only access to the program of every edition, and gate check-in for scanners "
        "(gate device token or gate staff session)."
    ),
    urls_namespace="api",
    # No validator badge: Swagger UI would otherwise send our OpenAPI address to
    # validator.swagger.io from every visitor's browser.
    docs=Swagger(settings={"validatorUrl": None}),
)
api.add_router("", program_router)
api.add_router("/checkin/", checkin_router)
api.add_router("/voices/", voices_router)
api.add_router("/transparency/", transparency_router)


def _too_big(
    request: HttpRequest, exc: RequestDataTooBig | type[RequestDataTooBig]
) -> HttpResponse:
    # Django refuses to read a body over DATA_UPLOAD_MAX_MEMORY_SIZE; say so in JSON.
    return api.create_response(request, {"detail": "The request body is too large."}, status=413)


api.add_exception_handler(RequestDataTooBig, _too_big)


def _invalid(request: HttpRequest, exc: ValidationError | type[ValidationError]) -> HttpResponse:
    """Malformed query or path parameters (a page size of -1, a date of 2026-13-45) are the
    client's mistake in the address: 400, as on the HTML pages. A body of the wrong shape stays
    422, the usual answer for a JSON document that does not fit its schema."""
    errors = list(getattr(exc, "errors", []))
    in_address = bool(errors) and all(
        isinstance(error, dict) and (error.get("loc") or ["body"])[0] in {"query", "path"}
        for error in errors
    )
    fields = ", ".join(
        str(error["loc"][-1]) for error in errors if isinstance(error, dict) and error.get("loc")
    )
    detail = f"Invalid parameter: {fields}." if in_address else "The request body is not valid."
    return api.create_response(
        request, {"detail": detail, "errors": errors}, status=400 if in_address else 422
    )


api.add_exception_handler(ValidationError, _invalid)
