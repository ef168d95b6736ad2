from __future__ import annotations

import datetime as dt
import re

import pytest
from django.db import connection
from django.utils.timezone import now

from gathering.transparency import merkle
from gathering.transparency import services as transparency
from gathering.voices import selectors, services
from gathering.voices.canonical import canonical_email
from gathering.voices.errors import (
    AlreadyWithdrawnError,
    CampaignClosedError,
    ConfirmationExpiredError,
    InvalidSignatureDataError,
    LinkNotValidError,
    ModerationError,
)
from gathering.voices.models import Invalidation, Signature
from gathering.voices.tests.factories import CampaignFactory, sign_request

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r"/voice/([A-Za-z0-9_-]{43})/confirm/")
WITHDRAW = re.compile(r"/voice/([A-Za-z0-9_-]{43})/\s")


def confirm_token(sink, address: str) -> str:
    match = TOKEN.search(sink.last_to(address).text)
    assert match, sink.last_to(address).text
    return match.group(1)


def signed_and_confirmed(campaign, sink, deliver, proof_of_work, **overrides) -> Signature:
    request = sign_request(proof_of_work=proof_of_work(), **overrides)
    services.sign(campaign=campaign, request=request)
    deliver()
    return services.confirm(token=confirm_token(sink, request.email))


@pytest.mark.parametrize(
    ("first", "second"),
    [
        ("Ali@Example.org", "ali@example.org"),
        ("ali+petition@example.org", "ali@example.org"),
        ("a.l.i@gmail.com", "ali@googlemail.com"),
        ("ALI+x@GMAIL.COM", "ali@gmail.com"),
        ("ali@ÉXAMPLE.org", "ali@xn--xample-9ua.org"),
    ],
)
def test_spellings_of_one_mailbox_share_a_canonical_form(first: str, second: str) -> None:
    assert canonical_email(first) == canonical_email(second)


def test_dots_count_where_the_provider_does_not_ignore_them() -> None:
    assert canonical_email("a.li@example.org") != canonical_email("ali@example.org")


def test_sign_queues_a_confirmation_email_and_counts_nothing_yet(smtp_sink, deliver, proof_of_work):
    campaign = CampaignFactory()
    outcome = services.sign(
        campaign=campaign,
        request=sign_request(email="new@example.org", proof_of_work=proof_of_work()),
    )
    assert outcome.created and outcome.flags == []
    assert outcome.signature.status == Signature.Status.PENDING
    # Not sent inside the service: queued for the worker.
    assert smtp_sink.messages == []
    assert deliver() == 1
    email = smtp_sink.last_to("new@example.org")
    assert "/voice/" in email.text and "confirm" in email.text
    assert selectors.count_by_country(campaign=campaign, fresh=True).total == 0


def test_confirming_counts_the_signature_and_forgets_the_address(smtp_sink, deliver, proof_of_work):
    campaign = CampaignFactory()
    signature = signed_and_confirmed(
        campaign, smtp_sink, deliver, proof_of_work, email="Keep@Example.org", country="DE"
    )
    signature.refresh_from_db()
    assert signature.status == Signature.Status.CONFIRMED
    assert signature.email is None  # no news asked: only the keyed hash stays
    assert signature.email_hash and "example" not in signature.email_hash
    assert signature.leaf is not None
    counts = selectors.count_by_country(campaign=campaign, fresh=True)
    assert counts.total == 1
    assert [(c.country, c.count) for c in counts.countries] == [("DE", 1)]


def test_a_signer_who_wants_news_keeps_the_address(smtp_sink, deliver, proof_of_work):
    signature = signed_and_confirmed(
        CampaignFactory(),
        smtp_sink,
        deliver,
        proof_of_work,
        email="news@example.org",
        wants_news=True,
    )
    signature.refresh_from_db()
    assert signature.email == "news@example.org"


def test_confirming_twice_is_not_an_error(smtp_sink, deliver, proof_of_work):
    campaign = CampaignFactory()
    request = sign_request(proof_of_work=proof_of_work())
    services.sign(campaign=campaign, request=request)
    deliver()
    token = confirm_token(smtp_sink, request.email)
    first = services.confirm(token=token)
    second = services.confirm(token=token)
    assert first.pk == second.pk
    assert Signature.objects.get(pk=first.pk).leaf_id == first.leaf_id
    assert selectors.count_by_country(campaign=campaign, fresh=True).total == 1


def test_an_expired_confirmation_link_is_refused(smtp_sink, deliver, proof_of_work):
    request = sign_request(proof_of_work=proof_of_work())
    services.sign(campaign=CampaignFactory(), request=request)
    deliver()
    token = confirm_token(smtp_sink, request.email)
    with pytest.raises(ConfirmationExpiredError):
        services.confirm(
            token=token, at=now() + services.CONFIRMATION_WINDOW + dt.timedelta(hours=1)
        )
    assert Signature.objects.get().status == Signature.Status.PENDING


@pytest.mark.parametrize("token", ["", "x" * 43, "short", "../../etc/passwd", "é" * 43])
def test_unknown_or_malformed_links_are_refused(token: str):
    with pytest.raises(LinkNotValidError):
        services.confirm(token=token)
    with pytest.raises(LinkNotValidError):
        services.withdraw(token=token)


def test_a_second_signature_in_another_spelling_writes_nothing_new(
    smtp_sink, deliver, proof_of_work
):
    campaign = CampaignFactory()
    signed_and_confirmed(campaign, smtp_sink, deliver, proof_of_work, email="a.li@gmail.com")
    smtp_sink.clear()
    outcome = services.sign(
        campaign=campaign,
        request=sign_request(email="ALI+again@googlemail.com", proof_of_work=proof_of_work()),
    )
    assert not outcome.created
    assert Signature.objects.filter(campaign=campaign).count() == 1
    deliver()
    # The owner of the address is told, in an email only (the page says nothing).
    assert "already signed" in smtp_sink.last_to("ALI+again@googlemail.com").text


def test_signing_again_while_pending_replaces_the_confirmation_link(
    smtp_sink, deliver, proof_of_work
):
    campaign = CampaignFactory()
    services.sign(campaign=campaign, request=sign_request(email="p@example.org"))
    deliver()
    first = confirm_token(smtp_sink, "p@example.org")
    smtp_sink.clear()
    services.sign(campaign=campaign, request=sign_request(email="P@example.org"))
    deliver()
    second = confirm_token(smtp_sink, "P@example.org")
    assert first != second
    with pytest.raises(LinkNotValidError):
        services.confirm(token=first)
    assert services.confirm(token=second).status == Signature.Status.CONFIRMED


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not-an-address"),
        ("email", ""),
        ("country", "XX"),
        ("country", ""),
        ("name", "Ali\u202eevil"),
        ("name", "<script>alert(1)</script>"),
        ("city", "Paris\u200b"),
        ("message", "x" * 501),
        ("message", "bad \x00 byte"),
        ("language", "de"),
    ],
)
def test_invalid_fields_are_refused_and_nothing_is_written(field: str, value: str):
    campaign = CampaignFactory()
    with pytest.raises(InvalidSignatureDataError) as error:
        services.sign(campaign=campaign, request=sign_request(**{field: value}))
    assert field in error.value.errors
    assert not Signature.objects.exists()


def test_names_in_any_script_are_accepted(smtp_sink, deliver):
    campaign = CampaignFactory()
    for name in ("علی رضایی", "مریم‌السادات", "Zoë Ørsted-Ñúñez", "Иван"):
        services.sign(campaign=campaign, request=sign_request(name=name))
    assert Signature.objects.filter(campaign=campaign).count() == 4


def test_consent_is_required():
    with pytest.raises(InvalidSignatureDataError) as error:
        services.sign(campaign=CampaignFactory(), request=sign_request(consent=False))
    assert "consent" in error.value.errors


def test_a_closed_campaign_refuses_signatures():
    campaign = CampaignFactory(
        opens_at=now() - dt.timedelta(days=10), closes_at=now() - dt.timedelta(days=1)
    )
    with pytest.raises(CampaignClosedError):
        services.sign(campaign=campaign, request=sign_request())


def test_without_proof_of_work_a_signature_is_held_not_refused(smtp_sink, deliver):
    campaign = CampaignFactory()
    request = sign_request()
    outcome = services.sign(campaign=campaign, request=request)
    assert outcome.created and services.Flag.NO_PROOF in outcome.flags
    deliver()
    signature = services.confirm(token=confirm_token(smtp_sink, request.email))
    assert signature.review == Signature.Review.HELD
    assert signature.leaf is None
    assert selectors.count_by_country(campaign=campaign, fresh=True).total == 0


def test_a_replayed_proof_of_work_is_flagged(proof_of_work):
    campaign = CampaignFactory()
    payload = proof_of_work()
    first = services.sign(campaign=campaign, request=sign_request(proof_of_work=payload))
    second = services.sign(campaign=campaign, request=sign_request(proof_of_work=payload))
    assert first.flags == []
    assert services.Flag.REPLAYED_PROOF in second.flags


@pytest.mark.parametrize("payload", ["garbage", "e30=", "A" * 3000])
def test_a_forged_proof_of_work_is_flagged(payload: str):
    outcome = services.sign(campaign=CampaignFactory(), request=sign_request(proof_of_work=payload))
    assert services.Flag.BAD_PROOF in outcome.flags


def test_a_filled_honeypot_is_flagged(proof_of_work):
    outcome = services.sign(
        campaign=CampaignFactory(),
        request=sign_request(proof_of_work=proof_of_work(), honeypot="http://spam.example"),
    )
    assert services.Flag.HONEYPOT in outcome.flags


def test_over_the_address_limit_signatures_are_flagged(settings, proof_of_work):
    settings.VOICES_RATE_LIMITS = {**settings.VOICES_RATE_LIMITS, "voices-address": (2, 3600)}
    campaign = CampaignFactory()
    flags = [
        services.sign(
            campaign=campaign,
            request=sign_request(client_ip="203.0.113.7", proof_of_work=proof_of_work()),
        ).flags
        for _ in range(3)
    ]
    assert flags[:2] == [[], []]
    assert services.Flag.RATE_ADDRESS in flags[2]


def test_the_network_is_kept_only_as_a_keyed_hash(proof_of_work):
    outcome = services.sign(
        campaign=CampaignFactory(),
        request=sign_request(client_ip="203.0.113.99", proof_of_work=proof_of_work()),
    )
    signature = Signature.objects.get(pk=outcome.signature.pk)
    assert signature.prefix_hash and "203.0.113" not in signature.prefix_hash
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM voices_signature")
        row = " ".join(str(value) for value in cursor.fetchone())
    assert "203.0.113" not in row
    assert "Signer" not in row and "example.org" not in row.replace(signature.email_domain, "")


def test_the_abuse_window_ends(proof_of_work):
    services.sign(campaign=CampaignFactory(), request=sign_request(proof_of_work=proof_of_work()))
    assert (
        services.end_abuse_window(at=now() + services.ABUSE_WINDOW + dt.timedelta(minutes=1)) == 1
    )
    signature = Signature.objects.get()
    assert signature.prefix_hash == "" and signature.email_domain == ""


def test_unconfirmed_signatures_expire():
    services.sign(campaign=CampaignFactory(), request=sign_request())
    assert (
        services.expire_unconfirmed(at=now() + services.CONFIRMATION_WINDOW + dt.timedelta(days=1))
        == 1
    )
    assert not Signature.objects.exists()


def test_withdrawing_erases_and_stops_counting(smtp_sink, deliver, proof_of_work):
    campaign = CampaignFactory()
    request = sign_request(proof_of_work=proof_of_work(), message="Courage!")
    services.sign(campaign=campaign, request=request)
    deliver()
    text = smtp_sink.last_to(request.email).text
    withdraw_token = re.findall(r"/voice/([A-Za-z0-9_-]{43})/(?!confirm)", text)
    services.confirm(token=confirm_token(smtp_sink, request.email))
    assert withdraw_token
    signature = services.withdraw(token=withdraw_token[0])
    assert signature.status == Signature.Status.WITHDRAWN
    assert signature.name is None and signature.message is None and signature.city is None
    assert selectors.count_by_country(campaign=campaign, fresh=True).total == 0
    figures = selectors.audit_figures(campaign=campaign)
    assert (figures.leaves, figures.withdrawn_after_counting) == (1, 1)
    # Again: no error, no change.
    assert services.withdraw(token=withdraw_token[0]).status == Signature.Status.WITHDRAWN
    # The address may sign again; the old confirmation link says it was withdrawn.
    with pytest.raises((AlreadyWithdrawnError, LinkNotValidError)):
        services.confirm(token=confirm_token(smtp_sink, request.email))


def test_leaves_are_integrated_and_receipts_verify(smtp_sink, deliver, proof_of_work):
    from gathering.voices import leaves, receipts

    campaign = CampaignFactory()
    signatures = [
        signed_and_confirmed(campaign, smtp_sink, deliver, proof_of_work, country=country)
        for country in ("FR", "DE", "IR")
    ]
    log = transparency.get_or_create_log(slug=campaign.log_slug)
    head = transparency.integrate(log=log)
    assert head is not None and head.size == 3
    for signature in signatures:
        signature.refresh_from_db()
        receipt = receipts.receipt_for(signature=signature)
        assert receipt is not None and receipt["index"] is not None
        parsed = merkle.Receipt.from_json(receipt)
        data = leaves.leaf_data(
            log_slug=campaign.log_slug,
            public_id=signature.public_id,
            country=signature.country,
            salt=signature.salt,
        )
        assert parsed.data == data
        assert b"Signer" not in data and b"@" not in data
        proof = transparency_proof(log, receipt["index"], head.size)
        merkle.verify_inclusion(
            merkle.leaf_hash(data), receipt["index"], head.size, proof, bytes(head.root)
        )


def transparency_proof(log, index: int, size: int) -> list[bytes]:
    from gathering.transparency import selectors as transparency_selectors

    return transparency_selectors.get_inclusion_proof(log=log, index=index, tree_size=size).path


def test_held_signatures_are_approved_or_rejected(smtp_sink, deliver):
    campaign = CampaignFactory()
    held = []
    for _ in range(2):
        request = sign_request()
        services.sign(campaign=campaign, request=request)
        deliver()
        held.append(services.confirm(token=confirm_token(smtp_sink, request.email)))
    services.review_held(signature=held[0], approve=True, reason="", moderator=None)
    services.review_held(signature=held[1], approve=False, reason="Bot wave", moderator=None)
    assert selectors.count_by_country(campaign=campaign, fresh=True).total == 1
    rejected = Signature.objects.get(pk=held[1].pk)
    assert rejected.status == Signature.Status.INVALIDATED and rejected.leaf is None
    with pytest.raises(ModerationError):
        services.review_held(signature=held[0], approve=True, reason="", moderator=None)


def test_bulk_invalidation_by_domain_is_published_and_reconciles(smtp_sink, deliver, proof_of_work):
    campaign = CampaignFactory()
    for n in range(3):
        signed_and_confirmed(
            campaign, smtp_sink, deliver, proof_of_work, email=f"bot{n}@spam.example"
        )
    signed_and_confirmed(campaign, smtp_sink, deliver, proof_of_work, email="real@example.org")
    kind = Invalidation.Kind.DOMAIN
    assert services.preview_invalidation(campaign=campaign, kind=kind, domain="spam.example") == 3
    invalidation = services.invalidate(
        campaign=campaign,
        kind=kind,
        domain="spam.example",
        reason="Disposable domain",
        moderator=None,
    )
    assert (invalidation.count, invalidation.counted) == (3, 3)
    figures = selectors.audit_figures(campaign=campaign)
    assert figures.counted == 1
    assert (
        figures.leaves
        == figures.counted + figures.invalidated_after_counting + figures.withdrawn_after_counting
    )
    with pytest.raises(ModerationError):
        services.invalidate(
            campaign=campaign, kind=kind, domain="x.example", reason="  ", moderator=None
        )


def test_small_countries_are_counted_together(smtp_sink, deliver, proof_of_work):
    campaign = CampaignFactory(country_threshold=2)
    for country in ("FR", "FR", "DE", "IR"):
        signed_and_confirmed(campaign, smtp_sink, deliver, proof_of_work, country=country)
    counts = selectors.count_by_country(campaign=campaign, fresh=True)
    assert [(c.country, c.count) for c in counts.countries] == [("FR", 2), (selectors.OTHER, 2)]
    assert counts.total == 4


def test_the_expiry_command_reports_what_it_did(proof_of_work):
    import io

    from django.core.management import call_command

    services.sign(campaign=CampaignFactory(), request=sign_request())
    out = io.StringIO()
    call_command("expire_signatures", stdout=out)
    assert "0 unconfirmed signature(s) deleted" in out.getvalue()
