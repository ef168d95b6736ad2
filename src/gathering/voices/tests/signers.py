"""Test data for the moderation, export and admin tests: signatures made through the services
(sign, then confirm with the link of the email the worker sent), or written with the models
where only the stored state matters (hundreds of named signatories for a long PDF)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from typing import Any

from django.contrib.auth.models import Group
from django.utils.timezone import now

from gathering.core.testing.smtp import SmtpSink
from gathering.voices import services
from gathering.voices.models import Campaign, Signature
from gathering.voices.tests.factories import sign_request

CONFIRM = re.compile(r"/voice/([A-Za-z0-9_-]{43})/confirm/")
PASSWORD = "a-long-staff-password-2027"
# Appears in signatures as their address: it must never be on a moderator's page.
CANARY_EMAIL = "canary.7f3a@leak-detector.example"


def make_staff(django_user_model: Any, role: str | None, *, username: str | None = None) -> Any:
    user = django_user_model.objects.create_user(
        username or f"{role or 'nobody'}-staff", password=PASSWORD, is_staff=True
    )
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


class Signers:
    """Signs and confirms through the services; ``proof`` makes a signature that counts at
    once, without it the signature is flagged (no proof of work) and held once confirmed."""

    def __init__(
        self, sink: SmtpSink, deliver: Callable[[], int], proof_of_work: Callable[[], str]
    ) -> None:
        self.sink = sink
        self.deliver = deliver
        self.proof_of_work = proof_of_work

    def pending(self, campaign: Campaign, *, proof: bool = True, **overrides: Any) -> Signature:
        if proof:
            overrides.setdefault("proof_of_work", self.proof_of_work())
        request = sign_request(**overrides)
        outcome = services.sign(campaign=campaign, request=request)
        assert outcome.created
        signature = outcome.signature
        signature.test_email = request.email  # type: ignore[attr-defined]
        return signature

    def confirm(self, signature: Signature) -> Signature:
        self.deliver()
        address = signature.test_email  # type: ignore[attr-defined]
        match = CONFIRM.search(self.sink.last_to(address).text)
        assert match, "no confirmation link in the email"
        return services.confirm(token=match.group(1))

    def counted(self, campaign: Campaign, **overrides: Any) -> Signature:
        signature = self.confirm(self.pending(campaign, proof=True, **overrides))
        assert signature.counts
        return signature

    def held(self, campaign: Campaign, **overrides: Any) -> Signature:
        signature = self.confirm(self.pending(campaign, proof=False, **overrides))
        assert signature.review == Signature.Review.HELD
        return signature


def stored_signature(campaign: Campaign, **fields: Any) -> Signature:
    """A signature written directly (no email, no log entry): confirmed and counted unless
    ``fields`` say otherwise."""
    values: dict[str, Any] = {
        "campaign": campaign,
        "public_id": secrets.token_hex(16),
        "salt": secrets.token_hex(16),
        "status": Signature.Status.CONFIRMED,
        "language": "en",
        "country": "FR",
        "email_hash": secrets.token_hex(32),
        "consent_version": "test",
        "created_at": now() - dt.timedelta(minutes=5),
        "confirmed_at": now() - dt.timedelta(minutes=4),
    }
    values.update(fields)
    return Signature.objects.create(**values)
