"""The challenge endpoint, the widget include and the honeypot field."""

from __future__ import annotations

import html
import json
import re

import pytest
from django import forms
from django.template import Context, Template
from django.urls import reverse
from django.utils import translation

from gathering.abuse import altcha
from gathering.abuse.honeypot import HoneypotField, HoneypotFormMixin, is_honeypot_filled

pytestmark = pytest.mark.django_db


def test_challenge_endpoint_serves_a_fresh_uncached_challenge(client) -> None:
    url = reverse("abuse:altcha-challenge")
    assert url == "/abuse/altcha/challenge"
    first, second = client.get(url), client.get(url)
    assert first.status_code == 200
    assert first["Content-Type"] == "application/json"
    assert first["Cache-Control"] == "no-store"
    assert first.json()["salt"] != second.json()["salt"]
    challenge = first.json()
    number = altcha.solve(challenge | {"maxnumber": challenge["maxnumber"]})
    assert altcha.verify_solution(payload=altcha.encode_payload(challenge, number)).ok


def test_challenge_endpoint_refuses_posts(client) -> None:
    assert client.post(reverse("abuse:altcha-challenge")).status_code == 405


def _render_widget(language: str, **context: object) -> str:
    template = Template('{% include "abuse/altcha_widget.html" with language=language %}')
    with translation.override(language):
        return template.render(
            Context({"language": language, "LANGUAGE_CODE": language, **context})
        )


def _strings(rendered: str) -> dict[str, str]:
    match = re.search(r'strings="([^"]*)"', rendered)
    assert match
    return json.loads(html.unescape(match.group(1)))


@pytest.mark.parametrize("language", ["en", "fa", "fr"])
def test_widget_include_passes_our_texts_and_our_endpoint(language) -> None:
    rendered = _render_widget(language)
    assert 'challengeurl="/abuse/altcha/challenge"' in rendered
    assert f'language="{language}"' in rendered
    assert 'name="altcha"' in rendered
    assert "hidefooter" in rendered and "hidelogo" in rendered
    assert re.search(r'<script src="/static/abuse/altcha\.min\.js" defer>', rendered)
    # The external build: its styles and worker are our files (no inline style, no blob:).
    assert '<link rel="stylesheet" href="/static/abuse/altcha.css">' in rendered
    assert 'workerurl="/static/abuse/altcha.worker.js"' in rendered
    strings = _strings(rendered)
    assert set(strings) >= {"label", "verifying", "verified", "error", "expired"}
    assert strings["footer"] == ""


def test_widget_include_takes_another_challenge_url() -> None:
    rendered = _render_widget("en", challenge_url="/elsewhere/challenge")
    assert 'challengeurl="/elsewhere/challenge"' in rendered


def test_vendored_widget_and_license_are_there(settings) -> None:
    from django.contrib.staticfiles import finders

    files = [
        finders.find(name)
        for name in ("abuse/altcha.min.js", "abuse/altcha.worker.js", "abuse/altcha.css")
    ]
    license_file = finders.find("abuse/altcha.LICENSE.txt")
    assert all(files) and license_file
    with open(license_file) as handle:
        assert "MIT License" in handle.read()
    source = ""
    for name in files:
        with open(name) as handle:
            source += handle.read()
    # The external build: no <style> element, no worker from a blob: or data: URL (the
    # Content-Security-Policy would refuse both).
    assert 'createElement("style")' not in source
    assert "createObjectURL" not in source and "data:text/javascript" not in source
    # No CDN, font or telemetry: the only absolute URLs are the footer link (hidden), a docs
    # link in an error message, Svelte's error-page links, and XML namespaces.
    urls = set(re.findall(r"https?://[^\s\"'`)]+", source))
    allowed = re.compile(
        r"https://altcha\.org/?|https://developer\.mozilla\.org/\S*|https://svelte\.dev/e/\S*"
        r"|http://www\.w3\.org/\S*"
    )
    assert [url for url in urls if not allowed.fullmatch(url)] == []
    assert "@import" not in source and "fonts.googleapis" not in source


class SignForm(HoneypotFormMixin):
    name = forms.CharField()


def test_honeypot_renders_hidden_unfocusable_and_unlabelled_in_the_layout() -> None:
    rendered = str(SignForm())
    match = re.search(
        r'<div class="abuse-honeypot" hidden aria-hidden="true">.*?</div>', rendered, re.S
    )
    assert match, rendered
    field = match.group(0)
    assert 'name="website"' in field
    assert 'autocomplete="off"' in field and 'tabindex="-1"' in field
    assert "Leave this field empty" in field
    assert "required" not in field
    # No label for it outside the hidden container.
    assert rendered.count("Leave this field empty") == 1


@pytest.mark.parametrize(
    ("value", "filled"),
    [
        ("", False),
        ("   ", False),
        (None, False),
        ("https://spam.example", True),
        ("<script>alert(1)</script>", True),
        ("\u200b", True),
        ("x" * 100_000, True),
    ],
)
def test_honeypot_is_never_an_error_and_tells_when_filled(value, filled) -> None:
    form = SignForm(
        data={"name": "Ali", "website": value} if value is not None else {"name": "Ali"}
    )
    assert form.is_valid(), form.errors
    assert form.honeypot_filled() is filled
    assert is_honeypot_filled(value) is filled
    assert len(form.cleaned_data["website"]) <= 100


def test_honeypot_field_alone() -> None:
    field = HoneypotField()
    assert field.clean("  spam ") == "spam"
    assert field.clean("") == ""
