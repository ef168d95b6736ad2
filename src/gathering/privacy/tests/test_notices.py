"""The privacy notice and the legal notice: written from the organisation's settings and the
editions' retention periods, in every language, linked from every page, and never a 500 (not
even before the organisation is set up)."""

from __future__ import annotations

import datetime as dt
import re
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest
from django.test import Client
from django.utils import translation

from gathering.core.models import CNIL_NAME, CNIL_URL, Organisation
from gathering.core.translated import Translated
from gathering.privacy.consents import PURPOSES
from gathering.program.tests.factories import EditionFactory

pytestmark = [pytest.mark.django_db, pytest.mark.engine_agnostic]

LANGUAGES = ("en", "fa", "fr")


def organisation(**overrides: object) -> Organisation:
    values: dict[str, object] = {
        "pk": 1,
        "name": Translated({"en": "Free Gathering", "fa": "گردهمایی آزاد", "fr": "Rassemblement"}),
        "short_name": "FG",
        "website": "https://free-gathering.example/",
        "contact_email": "hello@free-gathering.example",
        "legal_name": "Association Free Gathering",
        "postal_address": "12 rue de l'Exemple\n75011 Paris",
        "phone": "+33 1 23 45 67 89",
        "registration_id": "W751234567",
        "publication_director": "Maryam Director",
        "host_name": "Hosting Example SAS",
        "host_address": "2 rue du Serveur, 59100 Roubaix",
        "host_phone": "+33 9 72 10 10 07",
        "dpo_name": "Dana Protection",
        "privacy_email": "privacy@free-gathering.example",
        "processors": "Mail Relay Example GmbH (Germany)",
        "transfers": "",
        "log_retention_days": 14,
    }
    values.update(overrides)
    return Organisation.objects.create(**values)


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"href", "src", "action", "srcset", "data"} and value:
                self.urls.append(value)


def external_urls(html: str) -> set[str]:
    parser = Links()
    parser.feed(html)
    return {
        url
        for url in parser.urls
        if urlsplit(url).scheme in {"http", "https"} and urlsplit(url).hostname != "testserver"
    }


def get(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.content.decode()


@pytest.mark.parametrize("lang", LANGUAGES)
def test_both_notices_render_in_each_language(client: Client, lang: str) -> None:
    organisation()
    EditionFactory(year=2031)
    for url in (f"/{lang}/privacy/", f"/{lang}/legal/"):
        body = get(client, url)
        assert f'<html lang="{lang}" dir="{"rtl" if lang == "fa" else "ltr"}">' in body
        assert "Association Free Gathering" in body
        assert "<script>" not in body and " style=" not in body


def test_the_privacy_notice_shows_the_organisations_settings(client: Client) -> None:
    organisation(transfers="Backups in Canada, under the adequacy decision.")
    body = get(client, "/en/privacy/")
    for value in (
        "Association Free Gathering",
        "12 rue de l&#x27;Exemple<br>75011 Paris",
        "W751234567",
        "Dana Protection",
        'href="mailto:privacy@free-gathering.example"',
        "Hosting Example SAS",
        "Mail Relay Example GmbH (Germany)",
        "Backups in Canada, under the adequacy decision.",
        "Server logs: 14 days.",
        CNIL_NAME.replace("'", "&#x27;"),
        f'href="{CNIL_URL}"',
    ):
        assert value in body, value
    # The processings the software really does, with its own periods.
    for value in (
        "articles 9(2)(a) and 6(1)(a)",
        "A registration not confirmed within 3 days is cancelled",
        "kept for 2 days",
        "A signature not confirmed within 7 days is deleted",
        "the first 24 bits of an IPv4 address, the first 48 of an IPv6 one",
        "never later than 90 days after its last day",
        "Staff accounts and the audit trail",
        "Server logs, security and emails",
    ):
        assert value in body, value


def test_the_legal_notice_names_publisher_director_and_host(client: Client) -> None:
    organisation()
    body = get(client, "/fr/legal/")
    for value in (
        "Association Free Gathering",
        "75011 Paris",
        "+33 1 23 45 67 89",
        "W751234567",
        "Maryam Director",
        "Hosting Example SAS",
        "2 rue du Serveur, 59100 Roubaix",
        "+33 9 72 10 10 07",
        'href="mailto:hello@free-gathering.example"',
        'href="https://free-gathering.example/"',
        'href="/fr/privacy/"',
    ):
        assert value in body, value
    assert "Not given yet" not in body


def test_the_privacy_notice_gives_each_editions_retention(client: Client) -> None:
    EditionFactory(
        year=2032, start_date=dt.date(2032, 6, 29), end_date=dt.date(2032, 6, 30), retention_days=45
    )
    EditionFactory(
        year=2033,
        start_date=dt.date(2033, 7, 1),
        end_date=dt.date(2033, 7, 2),
        retention_days=400,
    )
    body = get(client, "/en/privacy/")
    rows = re.findall(r"<tr>\s*<th scope=\"row\">(\d+)</th>(.*?)</tr>", body, re.S)
    table = dict(rows)
    assert set(table) == {"2032", "2033"}
    assert '<td class="retention-days">45</td>' in table["2032"]
    assert 'datetime="2032-08-15"' in table["2032"]  # 30 June + 45 days, erased the next day
    assert '<td class="retention-days">400</td>' in table["2033"]
    assert 'datetime="2034-08-07"' in table["2033"]
    assert "<td>90</td>" in table["2033"]  # site contacts: at most 90 days
    assert "<td>45</td>" in table["2032"]


def test_persian_notice_has_persian_digits(client: Client) -> None:
    EditionFactory(year=2034, retention_days=45)
    body = get(client, "/fa/privacy/")
    assert '<td class="retention-days">۴۵</td>' in body


def test_without_any_organisation_the_notices_fall_back(client: Client) -> None:
    assert not Organisation.objects.exists()
    for lang in LANGUAGES:
        privacy = get(client, f"/{lang}/privacy/")
        legal = get(client, f"/{lang}/legal/")
        assert external_urls(privacy) <= {CNIL_URL}
        assert external_urls(legal) == set()
    with translation.override("en"):
        privacy = get(client, "/en/privacy/")
        legal = get(client, "/en/legal/")
    assert "has not entered its details yet" in privacy
    assert "Ask the organisers of the gathering." in privacy
    assert "our host (see the legal notice)" in privacy
    assert "None: we do not transfer your data outside the European Economic Area." in privacy
    assert "Server logs: for the period our host sets" in privacy
    assert "No gathering is scheduled yet" in privacy
    assert CNIL_NAME.replace("'", "&#x27;") in privacy
    assert "has not entered its legal details yet" in legal
    assert legal.count("Not given yet") >= 5


def test_an_organisation_with_blank_fields_gets_fallbacks(client: Client) -> None:
    Organisation.objects.create(
        pk=1,
        name=Translated({"en": "Bare"}),
        supervisory_authority="",
        supervisory_authority_address="",
        supervisory_authority_url="",
    )
    privacy = get(client, "/en/privacy/")
    legal = get(client, "/en/legal/")
    assert "has not entered its details yet" not in privacy
    assert "<bdi>Bare</bdi>" in privacy and "<bdi>Bare</bdi>" in legal
    assert CNIL_NAME.replace("'", "&#x27;") in privacy  # blank authority: the CNIL again
    assert f'href="{CNIL_URL}"' in privacy
    assert "Ask the organisers of the gathering." in privacy
    assert "Not given yet" in legal


def test_no_link_to_another_site_but_those_the_organisation_entered(client: Client) -> None:
    organisation(supervisory_authority_url="https://authority.example/complaints")
    EditionFactory(year=2035)
    for lang in LANGUAGES:
        for url in (f"/{lang}/privacy/", f"/{lang}/legal/"):
            assert external_urls(get(client, url)) <= {
                "https://free-gathering.example/",
                "https://authority.example/complaints",
            }


def test_settings_are_escaped(client: Client) -> None:
    organisation(
        legal_name='<script>alert("x")</script>',
        processors="<img src=x onerror=alert(1)>",
        host_name="Host & <b>Co</b>",
    )
    for url in ("/en/privacy/", "/en/legal/"):
        body = get(client, url)
        assert "<script>alert" not in body and "<img src=x" not in body and "<b>Co</b>" not in body
        assert "&lt;script&gt;" in body


def test_a_link_is_made_only_of_a_web_address(client: Client) -> None:
    # The admin's URL fields refuse anything else; a value written another way is no link.
    organisation(website="javascript:alert(1)", supervisory_authority_url="data:text/html,x")
    for url in ("/en/privacy/", "/en/legal/"):
        body = get(client, url)
        assert "javascript:" not in body and "data:text" not in body
    assert f'href="{CNIL_URL}"' in get(client, "/en/privacy/")


def test_every_page_links_to_both_notices(client: Client) -> None:
    edition = EditionFactory(year=2036)
    for lang in LANGUAGES:
        for url in (f"/{lang}/", f"/{lang}/{edition.year}/", f"/{lang}/no-such-page/"):
            body = client.get(url).content.decode()
            assert f'href="/{lang}/privacy/"' in body, url
            assert f'href="/{lang}/legal/"' in body, url


def test_the_notice_shows_the_consent_texts_in_use(client: Client) -> None:
    EditionFactory(year=2037, retention_days=21)
    body = get(client, "/en/privacy/")
    for purpose in PURPOSES:
        assert f"Version {purpose.version}" in body
        text = purpose.render("en", edition=None)
        assert text.statement in body
    # The texts as the current edition's forms show them: its own period.
    assert "We keep your registration until 21 days after the gathering ends" in body
    assert "earlier versions: voices-2026-1" in body
