"""Signatures on PostgreSQL outside a transaction (``voices/pipelined_sign.py``): the rate
limits, the proof's spending, the signature and its email in one pipeline, as two explicit
transactions. These tests run outside a test transaction (as a server does), so that the
pipelined path is the one taken; the ones in test_services.py run inside one (general path)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

import pytest
from django.db import IntegrityError, connection

from gathering.abuse.models import RateCounter, SpentChallenge
from gathering.abuse.tests.conftest import redis_url_or_skip
from gathering.core.fast_write import prepare
from gathering.outbox.models import OutboxEmail
from gathering.voices import pipelined_sign, services
from gathering.voices.models import Signature
from gathering.voices.tests.factories import CampaignFactory, sign_request

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        "connection.vendor != 'postgresql'",
        reason="the pipelined path is PostgreSQL's (SQLite shares commits: core/group_commit.py)",
    ),
]

IDLE = 0  # psycopg's TransactionStatus.IDLE


@pytest.fixture(autouse=True)
def redis_url(settings: Any) -> str:
    """Rate limits counted in the database, unless a test sets this back (Redis' URL)."""
    url: str = settings.REDIS_URL
    settings.REDIS_URL = ""
    return url


@pytest.fixture
def taken(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """One entry per signature that went through ``pipelined_sign.write``: whether it
    committed there (False: rolled back, the general path's turn)."""
    outcomes: list[bool] = []
    write = pipelined_sign.write

    def recorded(**arguments: Any) -> pipelined_sign.Written:
        written = write(**arguments)
        outcomes.append(written.signature is not None)
        return written

    monkeypatch.setattr(pipelined_sign, "write", recorded)
    return outcomes


def idle() -> bool:
    return connection.connection.info.transaction_status == IDLE


def hits(scope: str) -> list[int]:
    return list(RateCounter.objects.filter(scope__startswith=scope).values_list("hits", flat=True))


def test_a_signature_is_written_in_the_pipeline_with_its_email_and_counts(
    taken: list[bool], proof_of_work: Callable[[], str]
) -> None:
    campaign = CampaignFactory()
    outcome = services.sign(
        campaign=campaign,
        request=sign_request(email="pipe@example.org", proof_of_work=proof_of_work()),
    )
    assert taken == [True] and outcome.created and outcome.flags == []
    assert idle()
    stored = Signature.objects.get(pk=outcome.signature.pk)
    assert stored.status == Signature.Status.PENDING and stored.flags == []
    assert stored.email == "pipe@example.org"  # decrypted: stored encrypted, as by save()
    assert OutboxEmail.objects.filter(kind="voices.confirm").count() == 1
    assert SpentChallenge.objects.count() == 1
    assert hits(f"voices-address:{campaign.pk}") == [1]
    assert hits(f"voices-network:{campaign.pk}") == [1]
    assert hits(f"voices-domain:{campaign.pk}") == [1]


def test_a_passed_limit_flags_the_committed_row(
    settings: Any, taken: list[bool], proof_of_work: Callable[[], str]
) -> None:
    settings.VOICES_RATE_LIMITS = {**settings.VOICES_RATE_LIMITS, "voices-address": (1, 3600)}
    campaign = CampaignFactory()
    outcomes = [
        services.sign(
            campaign=campaign,
            request=sign_request(client_ip="203.0.113.7", proof_of_work=proof_of_work()),
        )
        for _ in range(2)
    ]
    assert taken == [True, True]
    assert outcomes[0].flags == []
    assert outcomes[1].flags == [services.Flag.RATE_ADDRESS]
    stored = Signature.objects.get(pk=outcomes[1].signature.pk)
    assert stored.flags == [services.Flag.RATE_ADDRESS]
    assert idle()


def test_flags_known_before_keep_their_order_with_a_passed_limit(
    settings: Any, taken: list[bool]
) -> None:
    settings.VOICES_RATE_LIMITS = {**settings.VOICES_RATE_LIMITS, "voices-domain": (0, 3600)}
    outcome = services.sign(
        campaign=CampaignFactory(),
        request=sign_request(proof_of_work=None, honeypot="http://spam.example"),
    )
    assert taken == [True]
    expected = [services.Flag.NO_PROOF, services.Flag.HONEYPOT, services.Flag.RATE_DOMAIN]
    assert outcome.flags == expected
    assert Signature.objects.get(pk=outcome.signature.pk).flags == expected


def test_a_second_signature_of_an_address_rolls_back_and_counts_its_hits_once(
    taken: list[bool], proof_of_work: Callable[[], str], smtp_sink: Any, deliver: Any
) -> None:
    campaign = CampaignFactory()
    first = services.sign(
        campaign=campaign,
        request=sign_request(email="twice@example.org", proof_of_work=proof_of_work()),
    )
    second = services.sign(
        campaign=campaign,
        request=sign_request(email="Twice+again@Example.org", proof_of_work=proof_of_work()),
    )
    assert taken == [True, False]  # the duplicate: rolled back, then the general path
    assert not second.created and second.signature.pk == first.signature.pk
    assert Signature.objects.filter(campaign=campaign).count() == 1
    assert list(OutboxEmail.objects.order_by("pk").values_list("kind", flat=True)) == [
        "voices.confirm",
        "voices.already_signed",
    ]
    assert hits(f"voices-domain:{campaign.pk}") == [2]  # once each, not again on the way back
    assert SpentChallenge.objects.count() == 2
    assert idle()
    assert deliver() == 2


def test_a_replayed_proof_rolls_back_and_is_flagged_by_the_general_path(
    taken: list[bool], proof_of_work: Callable[[], str]
) -> None:
    campaign = CampaignFactory()
    proof = proof_of_work()
    first = services.sign(campaign=campaign, request=sign_request(proof_of_work=proof))
    again = services.sign(campaign=campaign, request=sign_request(proof_of_work=proof))
    assert taken == [True, False]
    assert first.flags == [] and again.created
    assert again.flags == [services.Flag.REPLAYED_PROOF]
    assert Signature.objects.get(pk=again.signature.pk).flags == [services.Flag.REPLAYED_PROOF]
    assert hits(f"voices-domain:{campaign.pk}") == [2]
    assert OutboxEmail.objects.count() == 2
    assert idle()


def test_an_error_rolls_back_and_leaves_the_connection_usable(
    proof_of_work: Callable[[], str],
) -> None:
    campaign = CampaignFactory()
    row = prepare(
        Signature(campaign=campaign, public_id="a" * 32, salt="s", email_hash="h", flags=[])
    )
    refused = prepare(OutboxEmail(kind="voices.confirm", language="en", recipient="x@y.z"))
    refused = refused.replace(status=None)  # NOT NULL: the statement fails on the server
    with pytest.raises(IntegrityError):
        pipelined_sign.write(
            hits=[], checked=None, row=row, email=refused, flags_after=lambda _counted: []
        )
    assert idle()
    assert not Signature.objects.filter(public_id="a" * 32).exists()
    assert OutboxEmail.objects.count() == 0
    # The connection goes on in autocommit: a write outside any transaction commits at once.
    services.sign(campaign=campaign, request=sign_request(proof_of_work=proof_of_work()))
    assert Signature.objects.filter(campaign=campaign).count() == 1


def test_inside_a_transaction_the_general_path_is_taken(
    taken: list[bool], proof_of_work: Callable[[], str]
) -> None:
    from django.db import transaction

    with transaction.atomic():
        outcome = services.sign(
            campaign=CampaignFactory(), request=sign_request(proof_of_work=proof_of_work())
        )
    assert taken == [] and outcome.created


def test_with_redis_the_limits_are_counted_there_and_the_rest_pipelined(
    settings: Any, redis_url: str, taken: list[bool], proof_of_work: Callable[[], str]
) -> None:
    settings.REDIS_URL = redis_url
    settings.REDIS_URL = redis_url_or_skip()
    settings.VOICES_RATE_LIMITS = {**settings.VOICES_RATE_LIMITS, "voices-address": (1, 3600)}
    campaign = CampaignFactory()
    # Redis outlives the test database: an address no earlier run used.
    address = ".".join(str(secrets.randbelow(250) + 1) for _ in range(4))
    outcomes = [
        services.sign(
            campaign=campaign,
            request=sign_request(client_ip=address, proof_of_work=proof_of_work()),
        )
        for _ in range(2)
    ]
    assert taken == [True, True]
    assert RateCounter.objects.count() == 0  # counted in Redis
    assert outcomes[1].flags == [services.Flag.RATE_ADDRESS]
    assert idle()
