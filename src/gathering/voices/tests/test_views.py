from __future__ import annotations

import csv
import io
import re

import pytest
from django.test import Client

from gathering.voices import services
from gathering.voices.models import Signature
from gathering.voices.tests.factories import (
    CampaignFactory,
    EndorsementFactory,
    form_data,
    sign_request,
)

pytestmark = pytest.mark.django_db

CONFIRM = re.compile(r"/voice/([A-Za-z0-9_-]{43})/confirm/")


def url(campaign, lang: str = "en", suffix: str = "") -> str:
    return f"/{lang}/{campaign.edition.year}/voices/{campaign.slug}/{suffix}"


@pytest.mark.parametrize("lang", ["en", "fa", "fr"])
def test_the_campaign_page_shows_text_count_and_form(client: Client, lang: str):
    campaign = CampaignFactory()
    EndorsementFactory(campaign=campaign, name="Jane Public")
    response = client.get(url(campaign, lang))
    assert response.status_code == 200
    html = response.content.decode()
    assert f'lang="{lang}"' in html
    assert 'name="email"' in html and 'name="country"' in html
    assert "Jane Public" in html
    if lang == "fa":
        assert 'dir="rtl"' in html


def test_unknown_campaign_or_year_is_a_404(client: Client):
    campaign = CampaignFactory()
    assert client.get(f"/en/{campaign.edition.year}/voices/nope/").status_code == 404
    assert client.get(f"/en/1900/voices/{campaign.slug}/").status_code == 404
    unpublished = CampaignFactory(is_published=False)
    assert client.get(url(unpublished)).status_code == 404


def test_signing_without_javascript_redirects_to_check_your_email(
    client: Client, smtp_sink, deliver
):
    campaign = CampaignFactory()
    response = client.post(url(campaign), form_data())
    assert response.status_code == 302
    assert response["Location"].endswith("/sent/")
    signature = Signature.objects.get()
    # No proof of work (no JavaScript): accepted, held for review once confirmed.
    assert services.Flag.NO_PROOF in signature.flags
    assert deliver() == 1
    assert smtp_sink.last_to("maryam@example.org")


def test_signing_twice_shows_the_same_page(client: Client, deliver):
    campaign = CampaignFactory()
    first = client.post(url(campaign), form_data())
    second = client.post(url(campaign), form_data(email="MARYAM@example.org"))
    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Signature.objects.count() == 1


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", "Choose a country from the list."), ("fr", "Choisissez un pays"), ("fa", "کشور")],
)
def test_a_bad_country_is_explained_in_the_visitors_language(
    client: Client, lang: str, expected: str
):
    campaign = CampaignFactory()
    response = client.post(url(campaign, lang), form_data(country="ZZ"))
    assert response.status_code == 400
    assert expected in response.content.decode()
    assert not Signature.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"email": ""},
        {"email": "no-at-sign"},
        {"consent": ""},
        {"message": "x" * 5000},
        {"name": "A\u202eB"},
        {"language": "xx"},
        {"country": "<script>"},
    ],
)
def test_malformed_posts_are_400_and_write_nothing(client: Client, overrides):
    campaign = CampaignFactory()
    response = client.post(url(campaign), form_data(**overrides))
    assert response.status_code == 400
    assert not Signature.objects.exists()


def test_hostile_text_is_escaped_on_the_wall(client: Client, smtp_sink, deliver):
    campaign = CampaignFactory()
    request = sign_request(message="<img src=x onerror=alert(1)> آزادی", name="Ali")
    outcome = services.sign(campaign=campaign, request=request)
    deliver()
    services.confirm(token=CONFIRM.search(smtp_sink.last_to(request.email).text).group(1))
    services.review_held(signature=outcome.signature, approve=True, reason="", moderator=None)
    services.moderate_message(signature=outcome.signature, approve=True)
    html = client.get(url(campaign)).content.decode()
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=alert(1)&gt; آزادی" in html


def test_the_confirmation_link_confirms_only_on_post(client: Client, smtp_sink, deliver):
    campaign = CampaignFactory()
    client.post(url(campaign), form_data())
    deliver()
    token = CONFIRM.search(smtp_sink.last_to("maryam@example.org").text).group(1)
    page = client.get(f"/en/voice/{token}/confirm/")
    assert page.status_code == 200
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    assert Signature.objects.get().status == Signature.Status.PENDING
    response = client.post(f"/en/voice/{token}/confirm/")
    assert response.status_code == 302
    assert Signature.objects.get().status == Signature.Status.CONFIRMED
    # Used twice: not an error, the private page.
    again = client.post(f"/en/voice/{token}/confirm/", follow=True)
    assert again.status_code == 200


def test_unknown_private_links_are_404(client: Client):
    for path in (
        "/en/voice/" + "a" * 43 + "/",
        "/fa/voice/x/confirm/",
        "/en/voice/%00/receipt.json",
    ):
        assert client.get(path).status_code == 404


def test_the_private_page_shows_the_receipt_and_withdraws(
    client: Client, smtp_sink, deliver, proof_of_work
):
    campaign = CampaignFactory()
    client.post(url(campaign), form_data(altcha=proof_of_work()))
    deliver()
    text = smtp_sink.last_to("maryam@example.org").text
    token = CONFIRM.search(text).group(1)
    client.post(f"/en/voice/{token}/confirm/")
    page = client.get(f"/en/voice/{token}/").content.decode()
    assert "Your receipt" in page
    receipt = client.get(f"/en/voice/{token}/receipt.json")
    assert receipt.status_code == 200
    assert receipt.json()["log"] == campaign.log_slug
    response = client.post(f"/en/voice/{token}/", {"action": "withdraw"})
    assert response.status_code == 200
    assert Signature.objects.get().status == Signature.Status.WITHDRAWN
    assert client.post(f"/en/voice/{token}/", {"action": "nonsense"}).status_code == 400


def test_counts_json_csv_and_widget(client: Client):
    campaign = CampaignFactory()
    counts = client.get(url(campaign, suffix="counts.json"))
    assert counts.status_code == 200 and counts.json()["total"] == 0
    rows = list(
        csv.reader(
            io.StringIO(client.get(url(campaign, suffix="counts.csv")).content.decode("utf-8-sig"))
        )
    )
    assert rows[0] == ["Country code", "Country", "Signatures"]
    widget = client.get(url(campaign, suffix="widget/"))
    assert widget.status_code == 200
    assert "X-Frame-Options" not in widget


def test_the_audit_page_reconciles(client: Client):
    campaign = CampaignFactory()
    response = client.get(url(campaign, "fa", "audit/"))
    assert response.status_code == 200


def test_csv_cells_cannot_become_formulas():
    from gathering.voices.exports import safe_cell

    assert safe_cell("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert safe_cell("+33") == "'+33"
    assert safe_cell("Ali") == "Ali"


def test_the_api_gives_campaigns_counts_and_audit(client: Client):
    campaign = CampaignFactory()
    year = campaign.edition.year
    listed = client.get(f"/api/voices/{year}/campaigns")
    assert listed.status_code == 200 and listed.json()[0]["slug"] == campaign.slug
    counts = client.get(f"/api/voices/{year}/campaigns/{campaign.slug}/counts")
    assert counts.status_code == 200 and counts.json()["total"] == 0
    audit = client.get(f"/api/voices/{year}/campaigns/{campaign.slug}/audit")
    assert audit.status_code == 200 and audit.json()["leaves"] == 0
    assert client.get(f"/api/voices/{year}/campaigns/nope/counts").status_code == 404
    assert client.get("/api/voices/abc/campaigns").status_code == 400
    assert client.get("/api/voices/1800/campaigns").status_code == 404


def test_the_demo_has_campaigns(client: Client):
    from gathering.program.demo import load_demo
    from gathering.voices.demo import load_voices_demo

    load_demo()
    assert load_voices_demo() == 2
    assert load_voices_demo() == 0


def test_an_empty_addressee_is_not_shown(client: Client):
    campaign = CampaignFactory(addressee={"en": "", "fa": "", "fr": ""})
    assert "To:" not in client.get(url(campaign)).content.decode()
    petition = CampaignFactory(addressee={"en": "The European Parliament"})
    assert "To:" in client.get(url(petition)).content.decode()
