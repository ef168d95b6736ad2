"""The whole audit chain: a signer's receipt, downloaded from their private page, checked by the
stand-alone verifier (``gathering.transparency.verify``, no Django) against the live server's
signed tree head, inclusion proof and public keys over HTTP; and a tampered receipt refused."""

from __future__ import annotations

import io
import json
import re

import pytest
from django.test import Client

from gathering.core.testing.outbox import deliver_outbox
from gathering.transparency import services as transparency
from gathering.transparency import verify
from gathering.voices import services
from gathering.voices.tests.factories import CampaignFactory, sign_request

CONFIRM = re.compile(r"/voice/([A-Za-z0-9_-]{43})/confirm/")


def test_a_downloaded_receipt_verifies_against_the_server(
    live_server, transactional_db, smtp_sink, tmp_path, proof_of_work, settings
):
    settings.SITE_URL = live_server.url
    campaign = CampaignFactory()
    tokens = []
    for country in ("IR", "FR", "SE", "DE", "CA"):
        request = sign_request(country=country, proof_of_work=proof_of_work())
        services.sign(campaign=campaign, request=request)
        deliver_outbox()
        token = CONFIRM.search(smtp_sink.last_to(request.email).text).group(1)
        services.confirm(token=token)
        tokens.append(token)
    transparency.integrate(log=transparency.get_or_create_log(slug=campaign.log_slug))

    receipt = Client().get(f"/en/voice/{tokens[2]}/receipt.json").json()
    path = tmp_path / "receipt.json"
    path.write_text(json.dumps(receipt))
    out, err = io.StringIO(), io.StringIO()
    code = verify.main(
        ["receipt", "--receipt", str(path), "--url", live_server.url], stdout=out, stderr=err
    )
    assert code == 0, err.getvalue()
    assert out.getvalue().startswith("OK")

    receipt["leaf"]["country"] = "US"  # a lie about the leaf
    path.write_text(json.dumps(receipt))
    assert (
        verify.main(
            ["receipt", "--receipt", str(path), "--url", live_server.url],
            stdout=io.StringIO(),
            stderr=err,
        )
        == 1
    )
    # A receipt for a leaf that is not in the log: the same fields, another country.
    lie = bytes.fromhex(receipt["data"]).replace(b'"SE"', b'"US"')
    forged = {key: value for key, value in receipt.items() if key != "leaf"}
    forged["data"] = lie.hex()
    path.write_text(json.dumps(forged))
    err = io.StringIO()
    assert (
        verify.main(
            ["receipt", "--receipt", str(path), "--url", live_server.url],
            stdout=io.StringIO(),
            stderr=err,
        )
        == 1
    )
    assert "FAILED" in err.getvalue()


pytestmark = pytest.mark.django_db(transaction=True)
