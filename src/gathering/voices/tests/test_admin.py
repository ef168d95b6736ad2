"""Back office of "add your voice" (voices/admin.py): campaigns in three languages, endorsements
verified before they show, invalidations and signatures for reading only, without personal
data."""

from __future__ import annotations

from typing import Any

import pytest
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from gathering.core.testing.staff import sign_in_staff
from gathering.voices import selectors
from gathering.voices.models import Campaign, Endorsement, Invalidation, Signature
from gathering.voices.tests.factories import CampaignFactory, EndorsementFactory
from gathering.voices.tests.signers import CANARY_EMAIL, make_staff, stored_signature

pytestmark = pytest.mark.django_db


def admin_url(name: str, *args: Any) -> str:
    return reverse(f"admin:{name}", args=args)


@pytest.fixture
def organiser(client: Client, django_user_model):
    user = make_staff(django_user_model, "organiser")
    sign_in_staff(client, user)
    return user


@pytest.fixture
def campaign():
    return CampaignFactory(slug="free-iran")


def campaign_data(campaign: Campaign | None, edition, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "edition": edition.pk,
        "kind": "petition",
        "title_en": "Free Iran",
        "title_fa": "ایران آزاد",
        "title_fr": "Iran libre",
        "slug": "free-iran-2",
        "position": "0",
        "is_published": "on",
        "text_en": "We ask for freedom.",
        "text_fa": "ما آزادی می‌خواهیم.",
        "text_fr": "Nous demandons la liberté.",
        "addressee_en": "The European Parliament",
        "addressee_fa": "",
        "addressee_fr": "",
        "opens_at_0": "2026-06-01",
        "opens_at_1": "10:00:00",
        "closes_at_0": "2026-07-31",
        "closes_at_1": "10:00:00",
        "asks_name": "on",
        "asks_city": "on",
        "asks_message": "on",
        "goal": "10000",
        "country_threshold": "10",
        "endorsements-TOTAL_FORMS": "0",
        "endorsements-INITIAL_FORMS": "0",
        "endorsements-MIN_NUM_FORMS": "0",
        "endorsements-MAX_NUM_FORMS": "1000",
        "_save": "Save",
    }
    data.update(overrides)
    return data


# --- campaigns -------------------------------------------------------------------------------


def test_campaign_form_has_one_input_per_language_with_its_direction(
    client: Client, organiser, campaign
):
    for url in (admin_url("voices_campaign_add"), admin_url("voices_campaign_change", campaign.pk)):
        response = client.get(url)
        assert response.status_code == 200
        html = response.content.decode()
        for field in ("title", "text", "addressee"):
            assert f'name="{field}_fa"' in html and f'name="{field}_en"' in html
        assert 'lang="fa" dir="rtl"' in html
    changelist = client.get(admin_url("voices_campaign_changelist")).content.decode()
    assert '<span lang="en" dir="ltr">Stand with us</span>' in changelist


def test_organiser_creates_a_campaign_in_three_languages(client: Client, organiser, campaign):
    response = client.post(admin_url("voices_campaign_add"), campaign_data(None, campaign.edition))

    assert response.status_code == 302
    created = Campaign.objects.get(slug="free-iran-2")
    assert created.title == {"en": "Free Iran", "fa": "ایران آزاد", "fr": "Iran libre"}
    assert created.kind == Campaign.Kind.PETITION
    assert created.addressee["en"] == "The European Parliament"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"closes_at_0": "2026-05-01"}, "The campaign must close after it opens."),
        ({"slug": "free-iran"}, "already exists"),
        ({"slug": "has spaces"}, "Enter a valid"),
        ({"opens_at_0": "not a date"}, "Enter a valid date"),
        ({"country_threshold": "0"}, "Enter 1 or more."),
        ({"kind": "referendum"}, "Select a valid choice"),
    ],
)
def test_malformed_campaigns_give_form_errors_and_write_nothing(
    client: Client, organiser, campaign, overrides, message
):
    response = client.post(
        admin_url("voices_campaign_add"), campaign_data(None, campaign.edition, **overrides)
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert Campaign.objects.count() == 1


def test_campaign_list_links_to_the_moderation_page(client: Client, organiser, campaign):
    html = client.get(admin_url("voices_campaign_changelist")).content.decode()
    assert f'/staff/voices/{campaign.edition.year}/free-iran/"' in html


def test_a_moderator_reads_campaigns_but_cannot_change_them(
    client: Client, django_user_model, campaign
):
    sign_in_staff(client, make_staff(django_user_model, "moderator"))
    assert client.get(admin_url("voices_campaign_changelist")).status_code == 200
    assert client.get(admin_url("voices_campaign_add")).status_code == 403
    response = client.post(
        admin_url("voices_campaign_change", campaign.pk),
        campaign_data(campaign, campaign.edition, slug="renamed"),
    )
    assert response.status_code == 403
    campaign.refresh_from_db()
    assert campaign.slug == "free-iran"


# --- endorsements ----------------------------------------------------------------------------


def test_mark_as_verified_records_who_and_when_and_shows_the_endorsement(
    client: Client, organiser, campaign
):
    waiting = EndorsementFactory(campaign=campaign, name="Jane Member", verified_at=None)
    earlier = EndorsementFactory(campaign=campaign, name="Already Checked")
    first_verified_at = earlier.verified_at
    assert list(selectors.list_endorsements(campaign=campaign)) == [earlier]

    response = client.post(
        admin_url("voices_endorsement_changelist"),
        {"action": "mark_verified", "_selected_action": [waiting.pk, earlier.pk]},
        follow=True,
    )

    assert response.status_code == 200
    assert "1 endorsement marked as verified." in response.content.decode()
    waiting.refresh_from_db()
    earlier.refresh_from_db()
    assert waiting.verified_by == organiser and waiting.verified_at is not None
    assert earlier.verified_at == first_verified_at  # verified once, by whoever did it first
    assert set(selectors.list_endorsements(campaign=campaign)) == {waiting, earlier}
    page = Client().get(f"/en/{campaign.edition.year}/voices/{campaign.slug}/")
    assert "Jane Member" in page.content.decode()


def test_an_unverified_endorsement_is_not_shown(client: Client, campaign):
    EndorsementFactory(campaign=campaign, name="Unchecked Claim", verified_at=None)
    page = client.get(f"/en/{campaign.edition.year}/voices/{campaign.slug}/")
    assert "Unchecked Claim" not in page.content.decode()


def test_editing_a_verified_endorsement_hides_it_until_verified_again(
    client: Client, organiser, campaign
):
    endorsement = EndorsementFactory(campaign=campaign, name="Jane Member")
    data = {
        "campaign": campaign.pk,
        "name": "Jane Member MEP",
        "title_en": "Member of the European Parliament",
        "title_fa": "",
        "title_fr": "",
        "country": "FR",
        "statement_en": "",
        "statement_fa": "",
        "statement_fr": "",
        "position": "0",
        "_save": "Save",
    }

    response = client.post(admin_url("voices_endorsement_change", endorsement.pk), data)

    assert response.status_code == 302
    endorsement.refresh_from_db()
    assert endorsement.name == "Jane Member MEP"
    assert endorsement.verified_at is None and endorsement.verified_by is None
    assert list(selectors.list_endorsements(campaign=campaign)) == []


def test_position_only_edit_keeps_the_verification(client: Client, organiser, campaign):
    endorsement = EndorsementFactory(campaign=campaign, name="Jane Member", country="FR")
    data = {
        "campaign": campaign.pk,
        "name": "Jane Member",
        "title_en": "Member of Parliament",
        "title_fa": "نماینده مجلس",
        "title_fr": "Député",
        "country": "FR",
        "statement_en": "",
        "statement_fa": "",
        "statement_fr": "",
        "position": "3",
        "_save": "Save",
    }

    assert (
        client.post(admin_url("voices_endorsement_change", endorsement.pk), data).status_code == 302
    )
    endorsement.refresh_from_db()
    assert endorsement.position == 3 and endorsement.verified_at is not None


def test_endorsement_with_an_unknown_country_is_refused(client: Client, organiser, campaign):
    data = {
        "campaign": campaign.pk,
        "name": "Someone",
        "title_en": "Mayor",
        "title_fa": "",
        "title_fr": "",
        "country": "XX",
        "statement_en": "",
        "statement_fa": "",
        "statement_fr": "",
        "position": "0",
        "_save": "Save",
    }
    response = client.post(admin_url("voices_endorsement_add"), data)
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Endorsement.objects.exists()


def test_hostile_endorsement_name_is_shown_escaped(client: Client, organiser, campaign):
    EndorsementFactory(campaign=campaign, name="<script>alert(1)</script>")
    html = client.get(admin_url("voices_endorsement_changelist")).content.decode()
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_a_moderator_cannot_verify_endorsements(client: Client, django_user_model, campaign):
    waiting = EndorsementFactory(campaign=campaign, verified_at=None)
    sign_in_staff(client, make_staff(django_user_model, "moderator"))
    response = client.post(
        admin_url("voices_endorsement_changelist"),
        {"action": "mark_verified", "_selected_action": [waiting.pk]},
    )
    assert response.status_code == 403
    waiting.refresh_from_db()
    assert waiting.verified_at is None


# --- invalidations and signatures: read only --------------------------------------------------


def test_invalidations_are_listed_read_only(client: Client, django_user_model, campaign):
    invalidation = Invalidation.objects.create(
        campaign=campaign, kind=Invalidation.Kind.DOMAIN, reason="Flood", count=4, counted=2
    )
    for role in ("organiser", "moderator"):
        sign_in_staff(client, make_staff(django_user_model, role, username=f"{role}-inv"))
        assert "Flood" in client.get(admin_url("voices_invalidation_changelist")).content.decode()
        assert client.get(admin_url("voices_invalidation_add")).status_code == 403
        response = client.post(
            admin_url("voices_invalidation_change", invalidation.pk),
            {"reason": "Changed", "count": "0"},
        )
        assert response.status_code == 403
        assert (
            client.post(
                admin_url("voices_invalidation_delete", invalidation.pk), {"post": "yes"}
            ).status_code
            == 403
        )
    invalidation.refresh_from_db()
    assert invalidation.reason == "Flood" and invalidation.count == 4


def test_signature_list_shows_no_personal_data_and_allows_no_change(
    client: Client, organiser, campaign
):
    signature = stored_signature(
        campaign,
        name="Secret Signer",
        city="Secret City",
        message="Secret message",
        email=CANARY_EMAIL,
        email_domain="leak-detector.example",
        show_name=True,
        flags=["honeypot"],
        review=Signature.Review.HELD,
    )

    changelist = client.get(admin_url("voices_signature_changelist"))
    detail = client.get(admin_url("voices_signature_change", signature.pk))

    assert changelist.status_code == 200 and detail.status_code == 200
    for html in (changelist.content.decode(), detail.content.decode()):
        for secret in ("Secret Signer", "Secret City", "Secret message", "canary", "leak-detector"):
            assert secret not in html
    assert "honeypot" in changelist.content.decode()
    assert 'name="q"' not in changelist.content.decode()  # no search
    assert client.get(admin_url("voices_signature_add")).status_code == 403
    response = client.post(
        admin_url("voices_signature_change", signature.pk), {"status": "invalidated"}
    )
    assert response.status_code == 403
    assert (
        client.post(admin_url("voices_signature_delete", signature.pk), {"post": "yes"}).status_code
        == 403
    )
    signature.refresh_from_db()
    assert signature.status == Signature.Status.CONFIRMED
    assert not LogEntry.objects.exists()


@pytest.mark.parametrize("role", ["moderator", "gate", "registration_desk", "program_editor"])
def test_only_organisers_see_the_signature_list(client: Client, django_user_model, campaign, role):
    stored_signature(campaign)
    sign_in_staff(client, make_staff(django_user_model, role))
    assert client.get(admin_url("voices_signature_changelist")).status_code == 403
