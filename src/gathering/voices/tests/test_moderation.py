"""Moderation pages (voices/moderation_views.py): who may see them, what each decision writes,
the preview-then-confirm flow of bulk invalidation, malformed and hostile input, and that no
email address ever reaches a moderator's page."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest
from django.test import Client
from django.utils import translation
from django.utils.timezone import now

from gathering.core.testing.staff import sign_in_staff
from gathering.transparency import services as transparency
from gathering.transparency.models import Log
from gathering.voices import selectors
from gathering.voices.models import Invalidation, Signature
from gathering.voices.tests.factories import CampaignFactory
from gathering.voices.tests.signers import CANARY_EMAIL, Signers, make_staff, stored_signature

pytestmark = pytest.mark.django_db

Status = Signature.Status
Review = Signature.Review
MessageStatus = Signature.MessageStatus


def moderation_url(campaign, lang: str = "en") -> str:
    return f"/{lang}/staff/voices/{campaign.edition.year}/{campaign.slug}/"


def invalidate_url(campaign, lang: str = "en") -> str:
    return moderation_url(campaign, lang) + "invalidate/"


def label(language: str, message: str) -> str:
    with translation.override(language):
        return translation.gettext(message)


@pytest.fixture
def signers(smtp_sink, deliver, proof_of_work) -> Signers:
    return Signers(smtp_sink, deliver, proof_of_work)


@pytest.fixture
def campaign():
    return CampaignFactory(slug="free-iran")


@pytest.fixture
def moderator(django_user_model):
    return make_staff(django_user_model, "moderator")


@pytest.fixture
def moderator_client(client: Client, moderator) -> Client:
    sign_in_staff(client, moderator)
    return client


def audit_reconciles(campaign) -> selectors.AuditFigures:
    figures = selectors.audit_figures(campaign=campaign)
    assert figures.leaves == (
        figures.counted + figures.withdrawn_after_counting + figures.invalidated_after_counting
    )
    assert selectors.count_by_country(campaign=campaign, fresh=True).total == figures.counted
    return figures


# --- who may see the pages -------------------------------------------------------------------


@pytest.mark.parametrize("page", [moderation_url, invalidate_url])
def test_anonymous_visitors_are_sent_to_the_staff_sign_in(client: Client, campaign, page):
    url = page(campaign)
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/staff/login/?next={url}"
    response = client.post(url, {"queue": "messages", "decide": "approve", "ids": "1"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("role", "status"),
    [
        ("gate", 403),
        ("registration_desk", 403),
        ("program_editor", 403),
        (None, 403),
        ("moderator", 200),
        ("organiser", 200),
    ],
)
@pytest.mark.parametrize("page", [moderation_url, invalidate_url])
def test_permissions_matrix(client: Client, django_user_model, campaign, role, status, page):
    sign_in_staff(client, make_staff(django_user_model, role))
    response = client.get(page(campaign))
    assert response.status_code == status
    if status == 403:
        assert "Only moderators and organisers" in response.content.decode()


def test_staff_without_the_permission_change_nothing_by_post(
    client: Client, django_user_model, campaign, signers
):
    held = signers.held(campaign)
    sign_in_staff(client, make_staff(django_user_model, "gate"))

    response = client.post(
        moderation_url(campaign), {"queue": "held", "decide": f"approve:{held.pk}"}
    )
    assert response.status_code == 403
    response = client.post(
        invalidate_url(campaign),
        {"kind": "domain", "domain": "example.org", "reason": "Spam", "confirmed": "1"},
    )
    assert response.status_code == 403
    held.refresh_from_db()
    assert held.review == Review.HELD
    assert not Invalidation.objects.exists()


def test_forbidden_comes_before_not_found(client: Client, django_user_model, campaign):
    sign_in_staff(client, make_staff(django_user_model, "gate"))
    assert client.get(f"/en/staff/voices/{campaign.edition.year}/nowhere/").status_code == 403


def test_unknown_campaign_or_year_is_a_404(moderator_client: Client, campaign):
    year = campaign.edition.year
    assert moderator_client.get(f"/en/staff/voices/{year}/nowhere/").status_code == 404
    assert moderator_client.get(f"/en/staff/voices/1999/{campaign.slug}/").status_code == 404
    assert (
        moderator_client.get(f"/en/staff/voices/1999/{campaign.slug}/invalidate/").status_code
        == 404
    )


def test_moderators_also_see_an_unpublished_campaign(moderator_client: Client):
    campaign = CampaignFactory(slug="draft", is_published=False)
    response = moderator_client.get(moderation_url(campaign))
    assert response.status_code == 200
    assert "not published" in response.content.decode()


@pytest.mark.parametrize("lang", ["en", "fa", "fr"])
def test_pages_are_translated_and_persian_runs_right_to_left(
    moderator_client: Client, campaign, lang
):
    for page in (moderation_url, invalidate_url):
        response = moderator_client.get(page(campaign, lang))
        assert response.status_code == 200
        html = response.content.decode()
        assert f'lang="{lang}"' in html
        assert ('dir="rtl"' in html) == (lang == "fa")
        assert "no-cache" in response["Cache-Control"] or "no-store" in response["Cache-Control"]
        assert response["X-Robots-Tag"] == "noindex, nofollow"
    html = moderator_client.get(moderation_url(campaign, lang)).content.decode()
    assert label(lang, "Moderation") in html
    assert label(lang, "Held signatures") in html


# --- what a moderator sees -------------------------------------------------------------------


def test_the_queues_show_flags_country_domain_and_network_but_never_an_address(
    moderator_client: Client, campaign, signers
):
    # Signers who want news keep their address stored: it still must not reach the page.
    held_named = signers.held(
        campaign,
        email=CANARY_EMAIL,
        wants_news=True,
        name="Visible Heldname",
        show_name=True,
        country="DE",
        message="Held message text",
    )
    signers.held(
        campaign,
        email="canary.second@leak-detector.example",
        wants_news=True,
        name="Secret Heldname",
        show_name=False,
    )
    signers.counted(
        campaign,
        email="canary.third@leak-detector.example",
        wants_news=True,
        name="Secret Messenger",
        show_name=False,
        message="Solidarity from Lyon",
    )
    signers.counted(
        campaign,
        email="canary.fourth@leak-detector.example",
        name="Visible Messenger",
        show_name=True,
        message="Freedom <script>alert(1)</script>",
    )
    assert Signature.objects.get(pk=held_named.pk).email == CANARY_EMAIL  # kept: wants news

    html = moderator_client.get(moderation_url(campaign)).content.decode()

    assert "leak-detector.example" in html  # the domain is shown, for bulk decisions
    assert held_named.prefix_hash[:12] in html
    assert "No proof of work" in html
    assert "Germany" in html
    assert "Visible Heldname" in html and "Held message text" in html
    assert "Solidarity from Lyon" in html and "Visible Messenger" in html
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    for secret in ("Secret Heldname", "Secret Messenger", "@leak-detector", "canary."):
        assert secret not in html
    for other in (invalidate_url(campaign), invalidate_url(campaign) + "?kind=domain&domain=x.org"):
        assert "@" not in re.sub(r"<[^>]*>", "", moderator_client.get(other).content.decode())


def test_moderators_are_not_offered_the_exports_but_organisers_are(
    client: Client, django_user_model, campaign
):
    sign_in_staff(client, make_staff(django_user_model, "moderator"))
    assert "signatories.pdf" not in client.get(moderation_url(campaign)).content.decode()
    sign_in_staff(client, make_staff(django_user_model, "organiser"))
    assert "signatories.pdf" in client.get(moderation_url(campaign)).content.decode()


# --- messages --------------------------------------------------------------------------------


def test_a_message_is_approved_or_rejected_one_by_one(
    moderator_client: Client, campaign, signers, caplog
):
    first = signers.counted(campaign, message="First message", name="Named Signer", show_name=True)
    second = signers.counted(campaign, message="Second message")
    url = moderation_url(campaign)

    with caplog.at_level(logging.INFO, logger="gathering.voices"):
        response = moderator_client.post(
            url, {"queue": "messages", "decide": f"approve:{first.pk}"}
        )
        assert response.status_code == 302
        assert response["Location"] == url + "#messages"
        response = moderator_client.post(
            url, {"queue": "messages", "decide": f"reject:{second.pk}"}, follow=True
        )
        assert "1 message rejected." in response.content.decode()

    first.refresh_from_db()
    second.refresh_from_db()
    assert first.message_status == MessageStatus.APPROVED
    assert second.message_status == MessageStatus.REJECTED
    wall = selectors.list_wall_messages(campaign=campaign)
    assert [signature.pk for signature in wall] == [first.pk]
    assert "No message is waiting." in response.content.decode()
    log = caplog.text
    assert f"signature_id={first.pk}" in log and "moderator_id=" in log
    for personal in ("Named Signer", "First message", "example.org"):
        assert personal not in log


def test_ticked_messages_are_decided_together(moderator_client: Client, campaign, signers):
    ticked = [signers.counted(campaign, message=f"Message {n}") for n in range(3)]
    left = signers.counted(campaign, message="Not ticked")

    response = moderator_client.post(
        moderation_url(campaign),
        {"queue": "messages", "decide": "approve", "ids": [str(s.pk) for s in ticked]},
        follow=True,
    )

    assert response.status_code == 200
    assert "3 messages approved." in response.content.decode()
    statuses = dict(Signature.objects.values_list("pk", "message_status"))
    assert all(statuses[s.pk] == MessageStatus.APPROVED for s in ticked)
    assert statuses[left.pk] == MessageStatus.PENDING


def test_a_message_decided_twice_or_of_another_campaign_is_left_alone(
    moderator_client: Client, campaign, signers
):
    other = CampaignFactory(slug="other")
    foreign = signers.counted(other, message="Elsewhere")
    mine = signers.counted(campaign, message="Mine")
    url = moderation_url(campaign)
    moderator_client.post(url, {"queue": "messages", "decide": f"reject:{mine.pk}"})

    response = moderator_client.post(
        url,
        {"queue": "messages", "decide": "approve", "ids": [str(mine.pk), str(foreign.pk)]},
        follow=True,
    )

    assert response.status_code == 200
    assert "2 items had been decided already or are gone" in response.content.decode()
    assert Signature.objects.get(pk=mine.pk).message_status == MessageStatus.REJECTED
    assert Signature.objects.get(pk=foreign.pk).message_status == MessageStatus.PENDING


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"queue": "messages", "decide": "approve"}, "Tick at least one item first."),
        ({"queue": "messages", "decide": "approve", "ids": "abc"}, "The selection was not valid."),
        ({"queue": "messages", "decide": "approve", "ids": "-4"}, "The selection was not valid."),
        (
            {"queue": "messages", "decide": "approve", "ids": "9" * 40},
            "The selection was not valid.",
        ),
        (
            {"queue": "messages", "decide": "approve", "ids": ["1"] * 500},
            "The selection was not valid.",
        ),
        ({"queue": "messages", "decide": "publish:1"}, "Choose approve or reject."),
        ({"queue": "messages", "decide": "approve:0"}, "Choose approve or reject."),
        ({"queue": "messages"}, "Choose approve or reject."),
        ({"queue": "nothing", "decide": "approve:1"}, "This form is not known."),
        ({}, "This form is not known."),
        ({"queue": "held", "decide": "reject:1"}, "Give the reason: it is published."),
    ],
)
def test_malformed_decisions_are_400_with_a_message_and_change_nothing(
    moderator_client: Client, campaign, signers, data, message
):
    signature = signers.counted(campaign, message="Waiting")

    response = moderator_client.post(moderation_url(campaign), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    signature.refresh_from_db()
    assert signature.message_status == MessageStatus.PENDING
    assert not Invalidation.objects.exists()


def test_a_400_is_in_the_page_language(moderator_client: Client, campaign):
    response = moderator_client.post(moderation_url(campaign, "fa"), {"queue": "messages"})
    assert response.status_code == 400
    assert label("fa", "Choose approve or reject.") in response.content.decode()


def test_changes_need_the_csrf_token(moderator, campaign, signers):
    signature = signers.counted(campaign, message="Waiting")
    client = Client(enforce_csrf_checks=True)
    sign_in_staff(client, moderator)

    response = client.post(
        moderation_url(campaign), {"queue": "messages", "decide": f"approve:{signature.pk}"}
    )

    assert response.status_code == 403
    signature.refresh_from_db()
    assert signature.message_status == MessageStatus.PENDING


def test_a_get_changes_nothing(moderator_client: Client, campaign, signers):
    signature = signers.counted(campaign, message="Waiting")
    response = moderator_client.get(
        moderation_url(campaign), {"queue": "messages", "decide": f"approve:{signature.pk}"}
    )
    assert response.status_code == 200
    signature.refresh_from_db()
    assert signature.message_status == MessageStatus.PENDING


# --- held signatures -------------------------------------------------------------------------


def test_approving_a_held_signature_counts_it(moderator_client: Client, campaign, signers):
    held = signers.held(campaign, country="DE")
    assert selectors.count_by_country(campaign=campaign, fresh=True).total == 0

    response = moderator_client.post(
        moderation_url(campaign), {"queue": "held", "decide": f"approve:{held.pk}"}, follow=True
    )

    assert response.status_code == 200
    assert "1 signature approved: it counts now." in response.content.decode()
    held.refresh_from_db()
    assert held.review == Review.APPROVED and held.leaf_id is not None
    assert selectors.count_by_country(campaign=campaign, fresh=True).total == 1
    audit_reconciles(campaign)


def test_rejecting_held_signatures_records_who_and_why(
    moderator_client: Client, moderator, campaign, signers, caplog
):
    held = [signers.held(campaign, name=f"Held {n}", show_name=True) for n in range(2)]
    kept = signers.held(campaign)
    reason = "  Signatures from a  script  "

    with caplog.at_level(logging.INFO, logger="gathering.voices"):
        response = moderator_client.post(
            moderation_url(campaign),
            {
                "queue": "held",
                "decide": "reject",
                "ids": [str(s.pk) for s in held],
                "reason": reason,
            },
        )

    assert response.status_code == 302
    for signature in held:
        signature.refresh_from_db()
        assert signature.status == Status.INVALIDATED
        invalidation = signature.invalidation
        assert invalidation is not None
        assert invalidation.kind == Invalidation.Kind.SIGNATURE
        assert invalidation.reason == "Signatures from a script"
        assert invalidation.created_by == moderator
        assert invalidation.count == 1 and invalidation.counted == 0
    kept.refresh_from_db()
    assert kept.review == Review.HELD and kept.status == Status.CONFIRMED
    assert "Held 0" not in caplog.text and "Held 1" not in caplog.text
    figures = audit_reconciles(campaign)
    assert figures.held == 1 and figures.counted == 0


@pytest.mark.parametrize(
    "reason",
    [
        "Spam \u202eevil",  # a right-to-left override
        "Spam \u2066isolate\u2069",
        "x" * 301,
        "   ",
        "line\x00break",
    ],
)
def test_a_rejection_with_a_hostile_reason_is_refused(
    moderator_client: Client, campaign, signers, reason
):
    held = signers.held(campaign)

    response = moderator_client.post(
        moderation_url(campaign), {"queue": "held", "decide": f"reject:{held.pk}", "reason": reason}
    )

    assert response.status_code == 400
    held.refresh_from_db()
    assert held.review == Review.HELD and held.status == Status.CONFIRMED
    assert not Invalidation.objects.exists()


def test_a_signature_no_longer_held_is_left_as_it_is(moderator_client: Client, campaign, signers):
    held = signers.held(campaign)
    url = moderation_url(campaign)
    moderator_client.post(url, {"queue": "held", "decide": f"approve:{held.pk}"})

    response = moderator_client.post(
        url, {"queue": "held", "decide": f"reject:{held.pk}", "reason": "Too late"}, follow=True
    )

    assert "1 item had been decided already or is gone" in response.content.decode()
    held.refresh_from_db()
    assert held.review == Review.APPROVED and held.status == Status.CONFIRMED


# --- bulk invalidation -----------------------------------------------------------------------


def test_bulk_invalidation_previews_then_needs_the_confirmation(
    moderator_client: Client, moderator, campaign, signers
):
    spam = [signers.counted(campaign, email=f"bot{n}@spam.example") for n in range(3)]
    spam.append(signers.held(campaign, email="bot-held@spam.example"))
    pending = signers.pending(campaign, email="bot-pending@SPAM.example")
    honest = signers.counted(campaign, email="honest@example.org")
    url = invalidate_url(campaign)
    data = {"kind": "domain", "domain": " Spam.Example ", "reason": "A flood from one domain"}

    response = moderator_client.post(url, data)

    assert response.status_code == 200
    html = response.content.decode()
    assert '<strong class="moderation-count">5</strong>' in html
    assert 'name="confirmed" value="1"' in html
    assert 'name="domain" value="spam.example"' in html
    assert not Invalidation.objects.exists()
    assert Signature.objects.filter(status=Status.INVALIDATED).count() == 0

    confirmation = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    response = moderator_client.post(url, confirmation, follow=True)

    assert response.status_code == 200
    assert "5 signatures were set aside." in response.content.decode()
    invalidation = Invalidation.objects.get()
    assert invalidation.kind == Invalidation.Kind.DOMAIN
    assert invalidation.criteria == {"domain": "spam.example"}
    assert invalidation.reason == "A flood from one domain"
    assert invalidation.created_by == moderator
    assert invalidation.count == 5 and invalidation.counted == 3
    for signature in [*spam, pending]:
        signature.refresh_from_db()
        assert signature.status == Status.INVALIDATED
    honest.refresh_from_db()
    assert honest.status == Status.CONFIRMED
    figures = audit_reconciles(campaign)
    assert figures.counted == 1 and figures.invalidated_after_counting == 3
    # The decision is public, without the domain.
    audit = Client().get(f"/en/{campaign.edition.year}/voices/{campaign.slug}/audit/")
    assert "A flood from one domain" in audit.content.decode()
    assert "spam.example" not in audit.content.decode()


def test_counts_reconcile_with_the_log_after_invalidations_and_withdrawals(
    moderator_client: Client, campaign, signers
):
    from gathering.voices import services

    counted = [signers.counted(campaign, email=f"p{n}@a.example") for n in range(4)]
    counted += [signers.counted(campaign, email=f"q{n}@b.example") for n in range(2)]
    services.withdraw_signature(signature=counted[0])
    held = signers.held(campaign, email="r@a.example")
    head = transparency.integrate(log=Log.objects.get(slug=campaign.log_slug))
    assert head is not None and head.size == 6

    data = {"kind": "domain", "domain": "a.example", "reason": "Bots", "confirmed": "1"}
    assert moderator_client.post(invalidate_url(campaign), data).status_code == 302

    figures = audit_reconciles(campaign)
    assert figures.counted == 2
    assert figures.withdrawn_after_counting == 1
    assert figures.invalidated_after_counting == 3
    assert figures.leaves == 6
    held.refresh_from_db()
    assert held.status == Status.INVALIDATED  # held ones of the domain go too
    assert selectors.count_by_country(campaign=campaign, fresh=True).total == 2


def test_bulk_invalidation_by_network_hash(moderator_client: Client, campaign, signers):
    same = [signers.counted(campaign, client_ip=f"203.0.113.{n}") for n in (5, 6)]
    other = signers.counted(campaign, client_ip="192.0.2.9")
    assert same[0].prefix_hash == same[1].prefix_hash != other.prefix_hash

    data = {"kind": "prefix", "prefix_hash": same[0].prefix_hash.upper(), "reason": "One network"}
    preview = moderator_client.post(invalidate_url(campaign), data)
    assert '<strong class="moderation-count">2</strong>' in preview.content.decode()
    response = moderator_client.post(invalidate_url(campaign), {**data, "confirmed": "1"})

    assert response.status_code == 302
    assert Invalidation.objects.get().criteria == {"prefix_hash": same[0].prefix_hash}
    assert set(
        Signature.objects.filter(status=Status.INVALIDATED).values_list("pk", flat=True)
    ) == {signature.pk for signature in same}


def test_bulk_invalidation_by_time_window_in_the_editions_time_zone(
    moderator_client: Client, campaign
):
    # The edition is in Paris (UTC+2 in July): 10:00-11:00 there is 08:00-09:00 UTC.
    inside = [
        stored_signature(campaign, created_at=dt.datetime(2026, 7, 5, 8, minute, tzinfo=dt.UTC))
        for minute in (0, 30, 59)
    ]
    outside = [
        stored_signature(campaign, created_at=dt.datetime(2026, 7, 5, 9, 0, tzinfo=dt.UTC)),
        stored_signature(campaign, created_at=dt.datetime(2026, 7, 5, 7, 59, tzinfo=dt.UTC)),
    ]
    data = {
        "kind": "window",
        "start": "2026-07-05T10:00",
        "end": "2026-07-05 11:00",
        "reason": "A scripted burst",
    }

    preview = moderator_client.post(invalidate_url(campaign), data)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert '<strong class="moderation-count">3</strong>' in html
    confirmation = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', html))
    assert confirmation["start"] == "2026-07-05T10:00:00"
    response = moderator_client.post(invalidate_url(campaign), confirmation)

    assert response.status_code == 302
    invalidated = set(
        Signature.objects.filter(status=Status.INVALIDATED).values_list("pk", flat=True)
    )
    assert invalidated == {signature.pk for signature in inside}
    assert not invalidated & {signature.pk for signature in outside}
    criteria = Invalidation.objects.get().criteria
    assert dt.datetime.fromisoformat(criteria["start"]) == dt.datetime(2026, 7, 5, 8, tzinfo=dt.UTC)


def test_a_preview_that_matches_nothing_offers_no_confirmation(moderator_client: Client, campaign):
    data = {"kind": "domain", "domain": "nobody.example", "reason": "Nothing"}
    html = moderator_client.post(invalidate_url(campaign), data).content.decode()
    assert "No signature matches" in html
    assert 'name="confirmed"' not in html


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "signature", "reason": "x"}, "Choose what to match"),
        ({"kind": "everything", "reason": "x"}, "Choose what to match"),
        ({"reason": "x"}, "Choose what to match"),
        ({"kind": "domain", "reason": "x"}, "Enter the email domain."),
        ({"kind": "domain", "domain": "exa mple.org", "reason": "x"}, "without spaces"),
        ({"kind": "domain", "domain": "bot@spam.example", "reason": "x"}, "the part after @"),
        ({"kind": "domain", "domain": "<script>.org", "reason": "x"}, "without spaces"),
        ({"kind": "domain", "domain": "a" * 300, "reason": "x"}, "at most 253"),
        ({"kind": "prefix", "reason": "x"}, "Enter the network"),
        ({"kind": "prefix", "prefix_hash": "not-a-hash!", "reason": "x"}, "as the report shows it"),
        ({"kind": "window", "start": "2026-07-05T10:00", "reason": "x"}, "start and the end"),
        (
            {
                "kind": "window",
                "start": "2026-07-05T11:00",
                "end": "2026-07-05T10:00",
                "reason": "x",
            },
            "The end must come after the start.",
        ),
        (
            {"kind": "window", "start": "yesterday", "end": "2026-13-45T99:00", "reason": "x"},
            "Enter a date and time such as",
        ),
        ({"kind": "domain", "domain": "spam.example", "reason": ""}, "Give the reason"),
        (
            {"kind": "domain", "domain": "spam.example", "reason": "Spam \u202eevil"},
            "direction of text",
        ),
        ({"kind": "domain", "domain": "spam.example", "reason": "x" * 301}, "at most 300"),
    ],
)
def test_malformed_bulk_invalidations_are_400_and_write_nothing(
    moderator_client: Client, campaign, data, message
):
    stored_signature(campaign, email_domain="spam.example")
    for confirmed in ({}, {"confirmed": "1"}):
        response = moderator_client.post(invalidate_url(campaign), {**data, **confirmed})
        assert response.status_code == 400
        assert message in response.content.decode()
    assert not Invalidation.objects.exists()
    assert not Signature.objects.filter(status=Status.INVALIDATED).exists()


def test_a_bulk_error_is_in_the_page_language(moderator_client: Client, campaign):
    data = {"kind": "window", "start": "2026-07-05T11:00", "end": "2026-07-05T10:00", "reason": "x"}
    response = moderator_client.post(invalidate_url(campaign, "fa"), data)
    assert response.status_code == 400
    assert label("fa", "The end must come after the start.") in response.content.decode()


# --- the hourly trends -----------------------------------------------------------------------


def test_the_trend_report_shows_a_surging_domain_and_network_with_a_link_to_act(
    moderator_client: Client, campaign
):
    recent = now() - dt.timedelta(minutes=10)
    for _n in range(12):
        stored_signature(
            campaign, email_domain="surge.example", prefix_hash="ab" * 16, created_at=recent
        )
    for hours in range(2, 8):
        stored_signature(
            campaign,
            email_domain="steady.example",
            prefix_hash="cd" * 16,
            created_at=now() - dt.timedelta(hours=hours),
        )
    stored_signature(
        campaign, email_domain="steady.example", prefix_hash="cd" * 16, created_at=recent
    )

    html = moderator_client.get(moderation_url(campaign)).content.decode()

    section = html[html.index('id="trends"') :]
    assert "surge.example" in section and "steady.example" in section
    assert section.index("surge.example") < section.index("steady.example")
    assert "moderation-surge" in section
    assert "?kind=domain&amp;domain=surge.example" in section
    assert f"?kind=prefix&amp;prefix_hash={'ab' * 16}" in section

    form = moderator_client.get(invalidate_url(campaign) + "?kind=domain&domain=surge.example")
    assert 'value="surge.example"' in form.content.decode()
