"""One signature per email and campaign, across rotations of the keyed-hash key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils.timezone import now

from gathering.core import crypto, hmac_keys, key_management
from gathering.core.hmac_keys import LEGACY
from gathering.core.key_management import KeyInUseError
from gathering.privacy.services.retention import purge_expired
from gathering.voices import services
from gathering.voices.models import Signature
from gathering.voices.tests.factories import CampaignFactory, sign_request
from gathering.voices.tests.test_services import confirm_token

pytestmark = pytest.mark.django_db


def test_a_second_signature_after_a_rotation_is_still_refused(
    isolated_keys: Path, smtp_sink, deliver, proof_of_work
) -> None:
    campaign = CampaignFactory()
    first = services.sign(
        campaign=campaign,
        request=sign_request(email="Ali.Rezaei+news@Example.org", proof_of_work=proof_of_work()),
    ).signature
    deliver()
    confirmed = services.confirm(token=confirm_token(smtp_sink, "Ali.Rezaei+news@Example.org"))
    assert confirmed.email is None  # only the keyed hash remains to recognise the signer
    old_hash = confirmed.email_hash

    key_id = crypto.rotate_hmac_key()
    again = services.sign(
        campaign=campaign,
        request=sign_request(email="ali.rezaei@example.org", proof_of_work=proof_of_work()),
    )

    assert not again.created and again.signature.pk == first.pk
    assert Signature.objects.filter(campaign=campaign).count() == 1
    assert Signature.objects.get(pk=first.pk).email_hash == old_hash
    deliver()
    assert "already" in smtp_sink.last_to("ali.rezaei@example.org").text
    # A new signer is hashed under the new key.
    other = services.sign(
        campaign=campaign, request=sign_request(proof_of_work=proof_of_work())
    ).signature
    assert other.email_hash.startswith(f"{key_id}:")
    assert other.prefix_hash.startswith(f"{key_id}:")


def test_confirmed_signatures_hold_the_old_key_until_the_retention_purge(
    isolated_keys: Path, smtp_sink, deliver, proof_of_work, capsys, settings
) -> None:
    settings.REDIS_URL = ""  # rate-limit counters in the database, where retiring sees them
    campaign = CampaignFactory()
    pending = services.sign(
        campaign=campaign, request=sign_request(proof_of_work=proof_of_work())
    ).signature
    request = sign_request(proof_of_work=proof_of_work())
    services.sign(campaign=campaign, request=request)
    deliver()
    confirmed = services.confirm(token=confirm_token(smtp_sink, request.email))
    key_id = crypto.rotate_hmac_key()

    report = key_management.reindex_blind_indexes()

    assert report.updated["signatures (email)"] == 1
    pending.refresh_from_db()
    confirmed.refresh_from_db()
    assert pending.email_hash.startswith(f"{key_id}:")
    assert crypto.blind_index_key_id(confirmed.email_hash) == LEGACY
    # The re-hashed pending signature still refuses its owner's second signature.
    again = services.sign(
        campaign=campaign,
        request=sign_request(email=pending.email.upper(), proof_of_work=proof_of_work()),
    )
    assert not again.created and again.signature.pk == pending.pk

    with pytest.raises(KeyInUseError, match=r"signatures \(email\): 1") as refused:
        key_management.retire_hmac_key(LEGACY)
    assert refused.value.rows == {"signatures (email)": 1}
    with pytest.raises(CommandError, match="retention purge"):
        call_command("retire_hmac_key", LEGACY)
    assert hmac_keys.load(hmac_keys.HMAC).keys.keys() == {LEGACY, key_id}

    # The retention purge erases the signers' hashes: nothing depends on the old key any more.
    # Long after the edition (whatever year the factory gave it) and the campaign have ended.
    purge_expired(now=dt.datetime(9000, 1, 1, tzinfo=dt.UTC))
    blocking, other = key_management.hmac_key_dependencies(LEGACY)
    assert blocking == {}
    assert set(other) == {"rate-limit counters (current windows)"}  # reported, not blocking
    call_command("retire_hmac_key", LEGACY)
    captured = capsys.readouterr()
    assert "is retired" in captured.out
    assert "rate-limit counters (current windows)" in captured.err
    assert list(hmac_keys.load(hmac_keys.HMAC).keys) == [key_id]


def test_force_retires_a_key_that_data_still_needs(isolated_keys: Path, proof_of_work) -> None:
    campaign = CampaignFactory()
    signed = services.sign(
        campaign=campaign, request=sign_request(proof_of_work=proof_of_work())
    ).signature
    Signature.objects.filter(pk=signed.pk).update(email=None)  # as if confirmed
    crypto.rotate_hmac_key()

    left = key_management.retire_hmac_key(LEGACY, force=True)

    assert left["signatures (email)"] == 1
    assert left["signatures (network, kept 7 days)"] == 1
    assert LEGACY not in hmac_keys.load(hmac_keys.HMAC).keys
    assert now() < campaign.closes_at
