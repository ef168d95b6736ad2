"""WebAuthn ceremonies (security keys and passkeys) through py_webauthn.

The relying party id is the host name the page was reached at (``localhost``, or the site's
domain): a key registered under one name works under that name only. Browsers refuse an IP
address as relying party id, so on ``http://127.0.0.1`` security keys cannot be used
(:func:`host_supported`); ``localhost`` is a secure context even over plain HTTP.

A ceremony's challenge is kept in the session (:data:`~gathering.accounts.session.
WEBAUTHN_CHALLENGE_SESSION_KEY`) for ``CHALLENGE_SECONDS`` and used once: it is removed
before the browser's answer is checked, whatever that answer.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from typing import Any
from urllib.parse import urlsplit

from django.http import HttpRequest
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)
from webauthn.registration.verify_registration_response import VerifiedRegistration

from gathering.accounts.errors import PasskeyError
from gathering.accounts.models import WebAuthnCredential
from gathering.accounts.session import WEBAUTHN_CHALLENGE_SESSION_KEY, now

CHALLENGE_SECONDS = 300
TIMEOUT_MS = CHALLENGE_SECONDS * 1000
REGISTER = "register"
AUTHENTICATE = "authenticate"
# What a parser may raise on input a browser would never send (JSON of the wrong shape,
# invalid base64url or CBOR); cbor2's decoding errors are ValueErrors.
_MALFORMED = (WebAuthnException, ValueError, TypeError, KeyError, IndexError, AttributeError)
_TRANSPORTS = frozenset(transport.value for transport in AuthenticatorTransport)


def rp_id(request: HttpRequest) -> str:
    """The host name of the request (no port, lower case)."""
    return (urlsplit("//" + request.get_host()).hostname or "").lower()


def origin(request: HttpRequest) -> str:
    return f"{request.scheme}://{request.get_host()}"


def host_supported(request: HttpRequest) -> bool:
    """Whether WebAuthn can work at this address: a host name, not an IP address."""
    host = rp_id(request)
    if not host:
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return True
    return False


def user_handle(user: Any) -> bytes:
    """The account's id for authenticators (which store it with a passkey): 16 random bytes,
    neither its username nor its database id, the same for all of its keys (kept with each)."""
    kept = (
        WebAuthnCredential.objects.filter(user=user)
        .exclude(user_handle="")
        .values_list("user_handle", flat=True)
        .first()
    )
    return bytes.fromhex(kept) if kept else secrets.token_bytes(16)


def _descriptors(user: Any) -> list[PublicKeyCredentialDescriptor]:
    out = []
    for credential in WebAuthnCredential.objects.filter(user=user):
        transports = [
            AuthenticatorTransport(value) for value in credential.transports if value in _TRANSPORTS
        ]
        out.append(
            PublicKeyCredentialDescriptor(
                id=base64url_to_bytes(credential.credential_id), transports=transports or None
            )
        )
    return out


def _remember(request: HttpRequest, challenge: bytes, purpose: str, *, handle: bytes = b"") -> None:
    request.session[WEBAUTHN_CHALLENGE_SESSION_KEY] = {
        "challenge": bytes_to_base64url(challenge),
        "purpose": purpose,
        "user": request.user.pk,
        "handle": handle.hex(),
        "at": now(),
    }


def _take_challenge(request: HttpRequest, purpose: str) -> tuple[bytes, str]:
    """The session's challenge for ``purpose`` and the user handle it offered (hex, for a
    registration), removed from the session; PasskeyError if there is none (expired, used, of
    another ceremony or another account)."""
    stored = request.session.pop(WEBAUTHN_CHALLENGE_SESSION_KEY, None)
    if (
        not isinstance(stored, dict)
        or stored.get("purpose") != purpose
        or stored.get("user") != request.user.pk
        or not isinstance(stored.get("at"), int)
        or now() - stored["at"] > CHALLENGE_SECONDS
        or not isinstance(stored.get("challenge"), str)
        or not isinstance(stored.get("handle"), str)
    ):
        raise PasskeyError()
    return base64url_to_bytes(stored["challenge"]), stored["handle"]


def registration_options(request: HttpRequest, *, user: Any, rp_name: str) -> dict[str, Any]:
    """Options for ``navigator.credentials.create()`` (JSON-ready, binary values in
    base64url); the challenge is kept in the session."""
    options = generate_registration_options(
        rp_id=rp_id(request),
        rp_name=rp_name,
        user_id=user_handle(user),
        user_name=user.get_username(),
        user_display_name=user.get_username(),
        timeout=TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=_descriptors(user),
    )
    _remember(request, options.challenge, REGISTER, handle=options.user.id)
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def verify_registration(
    request: HttpRequest, *, credential: object
) -> tuple[VerifiedRegistration, list[str], str]:
    """Check the browser's answer to the registration options: the verified registration,
    the transports the browser reported and the user handle (hex). PasskeyError on any
    failure."""
    challenge, handle = _take_challenge(request, REGISTER)
    if not isinstance(credential, dict):
        raise PasskeyError()
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
        )
    except _MALFORMED as error:
        raise PasskeyError() from error
    response = credential.get("response")
    reported = response.get("transports") if isinstance(response, dict) else None
    transports = (
        sorted({value for value in reported if isinstance(value, str) and value in _TRANSPORTS})
        if isinstance(reported, list)
        else []
    )
    return verified, transports, handle


def authentication_options(request: HttpRequest, *, user: Any) -> dict[str, Any]:
    """Options for ``navigator.credentials.get()`` listing the account's keys."""
    options = generate_authentication_options(
        rp_id=rp_id(request),
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(user),
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    _remember(request, options.challenge, AUTHENTICATE)
    result: dict[str, Any] = json.loads(options_to_json(options))
    return result


def verify_authentication(
    request: HttpRequest, *, user: Any, credential: object
) -> tuple[WebAuthnCredential, int]:
    """Check the browser's answer to the authentication options against the account's own
    keys: the key used and its new signature counter. PasskeyError on any failure."""
    challenge, _handle = _take_challenge(request, AUTHENTICATE)
    if not isinstance(credential, dict) or not isinstance(credential.get("id"), str):
        raise PasskeyError()
    key = WebAuthnCredential.objects.filter(user=user, credential_id=credential["id"]).first()
    if key is None:
        raise PasskeyError()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id(request),
            expected_origin=origin(request),
            credential_public_key=bytes(key.public_key),
            credential_current_sign_count=key.sign_count,
        )
    except _MALFORMED as error:
        raise PasskeyError() from error
    return key, verified.new_sign_count


def credential_id_text(raw: bytes) -> str:
    return bytes_to_base64url(raw)
