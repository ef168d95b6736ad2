"""The check-in API, for the scanner web app and for other scanners (terminals, turnstiles).

Authentication: a gate device's bearer token (``Authorization: Bearer gd_…``, made with
``gathering create_gate_device``), or a staff session of the "gate" or "organiser" group (then
the ``X-CSRFToken`` header must carry the CSRF cookie on POST). A device may only scan at its
own gate and read its own edition. Nothing here returns personal data: tickets appear by their
id (16 hex digits) and category only.

Errors are JSON ``{"detail": ...}``: 401 without valid credentials, 403 for a gate of another
device or a staff account without a gate role, 404 for an unknown year or gate, 400 for a body
that is not JSON, 422 for a body of the wrong shape (a batch holds 1 to ``MAX_BATCH`` scans).
A code that is not a valid ticket is not an error: its scan gets a red result with the reason.
"""

# No ``from __future__ import annotations``: ninja reads the parameter annotations at runtime.
import datetime as dt
import json
from typing import Any, Literal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation import gettext as _
from ninja import Field, Query, Router, Schema
from ninja.errors import HttpError
from ninja.responses import NinjaJSONEncoder
from ninja.security import HttpBearer, SessionAuth
from pydantic import BaseModel

from gathering.checkin import selectors, services
from gathering.checkin.errors import CheckinError, NonceReusedError
from gathering.checkin.models import Gate, GateDevice
from gathering.checkin.permissions import is_gate_staff
from gathering.program.models import Edition

MAX_BATCH = 200
# A QR code holds at most 7,089 characters (numeric mode): anything a scanner can read fits.
MAX_CODE_CHARS = 7100


class GateDeviceAuth(HttpBearer):
    """A gate device's token: ``Authorization: Bearer gd_…``."""

    def __call__(self, request: HttpRequest) -> GateDevice | None:
        # As HttpBearer, reading the one header from META: request.headers would copy them all
        # on every scan.
        value = request.META.get("HTTP_AUTHORIZATION")
        if not value:
            return None
        scheme, _space, token = value.partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.authenticate(request, token)

    def authenticate(self, request: HttpRequest, token: str) -> GateDevice | None:
        return selectors.get_gate_device(token=token)


class GateStaffSessionAuth(SessionAuth):
    """A signed-in member of the "gate" or "organiser" group (CSRF-checked on POST)."""

    def authenticate(self, request: HttpRequest, key: str | None) -> AbstractBaseUser | None:
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return None
        if not is_gate_staff(user):
            raise HttpError(403, _("This account has no gate role."))
        return user  # type: ignore[return-value]


# Bearer first: a device sends no session cookie, and the session check would refuse it for
# lacking a CSRF token before the bearer token were looked at.
AUTH = [GateDeviceAuth(), GateStaffSessionAuth()]

router = Router(tags=["check-in"], auth=AUTH)


class ErrorOut(Schema):
    detail: Any


class GateOut(Schema):
    slug: str
    name: str


# Request bodies are plain pydantic models: ninja's Schema adds a validator that reads Django
# objects, which a JSON body does not need and every scan would pay for.
class ScanIn(BaseModel):
    nonce: str = Field(
        pattern=r"^[A-Za-z0-9_-]{8,64}$",
        description="Chosen by the scanner for this scan and sent again on every retry "
        "(8 to 64 letters, digits, '-' or '_'); a retry returns the stored result.",
    )
    code: str = Field(max_length=MAX_CODE_CHARS, description="The text read from the QR code.")
    direction: Literal["entry", "exit"] = "entry"
    device_time: dt.datetime | None = Field(
        None, description="The scanner's clock when it scanned (kept, never trusted)."
    )
    offline: bool = Field(
        False, description="True when the scanner decided without the server and sends it later."
    )


class ScanBatchIn(BaseModel):
    device_id: str = Field(
        "",
        pattern=r"^[A-Za-z0-9_.:-]{0,64}$",
        description="The scanner's own id, for the record (a device's token names it anyway).",
    )
    scans: list[ScanIn] = Field(min_length=1, max_length=MAX_BATCH)


class PreviousScanOut(Schema):
    gate: str
    gate_name: str
    time: dt.datetime


class ScanOut(Schema):
    nonce: str
    status: str = Field(
        description="valid, already_inside, already_left, not_inside, malformed, unknown_key, "
        "forged, revoked, wrong_edition, not_yet_valid, expired, unknown_ticket or nonce_reused."
    )
    accepted: bool
    message: str = Field(description="The reason, for the person at the gate.")
    direction: str
    ticket_id: str | None = Field(description="16 hex digits; null if the code is not ours.")
    category: int | None
    gate: str
    server_time: dt.datetime | None
    replayed: bool = Field(description="True when this nonce was already stored (a retry).")
    previous: PreviousScanOut | None = Field(
        description="For a duplicate: the scan that let the ticket in (or out) first."
    )


class ScanBatchOut(Schema):
    results: list[ScanOut]


class QuarterOut(Schema):
    gate: str
    start: dt.datetime
    entries: int
    exits: int
    rejected: int


class GateTotalOut(Schema):
    gate: str
    entries: int
    exits: int
    rejected: int


class CountsOut(Schema):
    year: int
    timezone: str
    inside: int = Field(description="Tickets inside now.")
    gates: list[GateTotalOut]
    quarters: list[QuarterOut]


class GateBundleKeysOut(Schema):
    count: int
    rice_k: int
    data: str


class GateBundleOut(Schema):
    format: str
    version: int
    edition_year: int
    generated_at: str
    keys: dict[str, str] = Field(description="Raw Ed25519 public keys (base64) by key id.")
    revoked: GateBundleKeysOut = Field(
        description="Revoked ticket ids: sorted 64-bit gaps, Rice-coded (see revocation.py)."
    )


class LanguageQuery(BaseModel):
    lang: str | None = Field(None, description="Language of the messages: en, fa or fr.")


class CountsQuery(Schema):
    gate: str | None = Field(None, description="Only this gate (its slug).")


# 400: a path parameter of the wrong type (api/api.py's handler), possible on every operation.
UNAUTHORISED = {400: ErrorOut, 401: ErrorOut, 403: ErrorOut, 404: ErrorOut}


def _edition(request: HttpRequest, year: int) -> Edition:
    try:
        edition = selectors.get_edition(year=year)
    except Edition.DoesNotExist:
        raise HttpError(404, _("There is no edition of this year.")) from None
    device = request.auth  # type: ignore[attr-defined]
    if isinstance(device, GateDevice) and device.gate.edition_id != edition.pk:
        raise HttpError(403, _("This device belongs to another edition."))
    return edition


def _gate(request: HttpRequest, year: int, slug: str) -> Gate:
    device = request.auth  # type: ignore[attr-defined]
    if isinstance(device, GateDevice):
        own = device.gate
        if own.slug == slug and own.edition.year == year:
            return own  # loaded with the device: no query
    try:
        gate = selectors.get_gate(year=year, slug=slug)
    except Gate.DoesNotExist:
        raise HttpError(404, _("There is no such gate in this edition.")) from None
    if isinstance(device, GateDevice) and device.gate_id != gate.pk:
        raise HttpError(403, _("This device scans at another gate."))
    return gate


def _activate(lang: str | None) -> None:
    if lang and lang in {code for code, _name in settings.LANGUAGES}:
        translation.activate(lang)


def _scan_out(result: services.ScanResult) -> dict[str, Any]:
    previous = result.previous
    return {
        "nonce": result.nonce,
        "status": result.status,
        "accepted": result.accepted,
        "message": result.message(),
        "direction": result.direction,
        "ticket_id": result.ticket_id or None,
        "category": result.category_code,
        "gate": result.gate.slug,
        "server_time": result.server_time,
        "replayed": result.replayed,
        "previous": (
            {
                "gate": previous.gate.slug,
                "gate_name": str(previous.gate.name) or previous.gate.slug,
                "time": previous.server_time,
            }
            if previous is not None
            else None
        ),
    }


@router.get(
    "/{year}/bundle",
    response={200: GateBundleOut, **UNAUTHORISED},
    url_name="checkin-bundle",
    summary="The gate bundle: public keys and revoked tickets",
)
def gate_bundle(request: HttpRequest, year: int) -> HttpResponse:
    """What a scanner needs to decide offline: the public keys that verify ticket codes and the
    edition's revoked ticket ids. It holds no personal data; for 100,000 revoked tickets it is
    about 820 kB."""
    edition = _edition(request, year)
    response = HttpResponse(
        selectors.build_gate_bundle(edition=edition), content_type="application/json"
    )
    response["Cache-Control"] = "no-store"
    return response


@router.get(
    "/{year}/gates",
    response={200: list[GateOut], **UNAUTHORISED},
    url_name="checkin-gates",
    summary="The gates of an edition",
)
def gate_list(request: HttpRequest, year: int) -> list[dict[str, str]]:
    edition = _edition(request, year)
    return [
        {"slug": gate.slug, "name": str(gate.name) or gate.slug}
        for gate in selectors.list_gates(edition=edition)
    ]


@router.post(
    "/{year}/gates/{slug}/scans",
    response={200: ScanBatchOut, 400: ErrorOut, 422: ErrorOut, **UNAUTHORISED},
    url_name="checkin-scans",
    summary="Record a batch of scans (online check-in or an offline queue's sync)",
)
def record_scans(
    request: HttpRequest,
    year: int,
    slug: str,
    batch: ScanBatchIn,
    query: Query[LanguageQuery],
) -> HttpResponse:
    """Decide and store each scan, in order, and return one result per scan (same order).

    Retries are safe: a scan whose nonce is already stored gets its stored result back
    (``replayed``: true) and nothing is written. The first valid entry of a ticket wins; later
    entries while it is inside are recorded as duplicates (``already_inside``)."""
    _activate(query.lang)
    gate = _gate(request, year, slug)
    auth = request.auth  # type: ignore[attr-defined]
    device = auth if isinstance(auth, GateDevice) else None
    try:
        return answer_scans(batch=batch, gate=gate, device=device, user=None if device else auth)
    except CheckinError as error:
        raise HttpError(422, str(error.message)) from error


def answer_scans(
    *, batch: ScanBatchIn, gate: Gate, device: GateDevice | None, user: Any
) -> HttpResponse:
    """Record ``batch`` at ``gate`` for ``device`` (or the staff ``user``) and answer it as
    ``record_scans`` documents (``ScanBatchOut``), messages in the active language. Also the
    hot path's (``checkin/middleware.py``). Raises CheckinError for a scan the scanner got
    wrong (a 422)."""
    device_id = batch.device_id or (f"device-{device.pk}" if device else "")
    results = []
    for item in batch.scans:
        try:
            result = services.record_scan(
                code=item.code,
                gate=gate,
                direction=item.direction,
                nonce=item.nonce,
                device_id=device_id,
                device_time=item.device_time,
                device=device,
                scanned_by=user,
                offline=item.offline,
            )
        except NonceReusedError as error:
            results.append(
                {
                    "nonce": item.nonce,
                    "status": "nonce_reused",
                    "accepted": False,
                    "message": str(error.message),
                    "direction": item.direction,
                    "ticket_id": None,
                    "category": None,
                    "gate": gate.slug,
                    "server_time": None,
                    "replayed": False,
                    "previous": None,
                }
            )
            continue
        results.append(_scan_out(result))
    # Serialised here, as ninja would (ScanBatchOut documents it; the tests check each answer
    # against it): validating our own dicts again cost as much as storing the scan.
    return HttpResponse(
        json.dumps({"results": results}, cls=NinjaJSONEncoder),
        content_type="application/json; charset=utf-8",
    )


@router.get(
    "/{year}/counts",
    response={200: CountsOut, **UNAUTHORISED},
    url_name="checkin-counts",
    summary="Entries and exits per gate and per quarter hour",
)
def counts(request: HttpRequest, year: int, query: Query[CountsQuery]) -> dict[str, Any]:
    """Valid entries, valid exits and rejected scans per gate, in total and per quarter hour
    (starting at :00, :15, :30, :45 in the edition's time zone), and the tickets inside now."""
    edition = _edition(request, year)
    gate = _gate(request, year, query.gate) if query.gate else None
    return {
        "year": edition.year,
        "timezone": edition.timezone,
        "inside": selectors.count_inside(edition=edition),
        "gates": [vars(row) for row in selectors.count_scans_by_gate(edition=edition)],
        "quarters": [
            vars(row) for row in selectors.count_scans_by_quarter(edition=edition, gate=gate)
        ],
    }
