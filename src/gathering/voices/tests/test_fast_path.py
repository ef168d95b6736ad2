"""The hot path of the public sign form (``voices/fast_path.py``): it answers as the whole
stack does, and leaves every other case to the whole stack before anything was written.

Which of the two answered is told by ``WholeStackReached``, a test-only middleware placed right
after ``SignFormMiddleware``: it marks every request the hot path let through. With the hot path
taken out of ``MIDDLEWARE`` every request is marked."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase
from django.test import Client, override_settings
from django.utils import translation
from django.utils.html import escape
from django.utils.timezone import now
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from gathering.core.crypto import blind_indexes
from gathering.core.testing.staff import sign_in_staff
from gathering.outbox.models import OutboxEmail
from gathering.voices import services
from gathering.voices.canonical import canonical_email
from gathering.voices.errors import CampaignClosedError
from gathering.voices.models import Campaign, Signature
from gathering.voices.tests.factories import CampaignFactory, form_data

pytestmark = pytest.mark.django_db

HOT_PATH = "gathering.voices.fast_path.SignFormMiddleware"
RECORDER = f"{__name__}.WholeStackReached"
TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
NONCE = re.compile(r"'nonce-[^']+'|nonce=\"[^\"]+\"")
FORM = "application/x-www-form-urlencoded"


class WholeStackReached:
    """Test only: marks the requests that went past the hot path (down the whole stack)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.reached_whole_stack = True  # type: ignore[attr-defined]
        return self.get_response(request)


def middleware(*, hot_path: bool) -> list[str]:
    names = list(settings.MIDDLEWARE)
    if RECORDER not in names:
        names.insert(names.index(HOT_PATH) + 1, RECORDER)
    if not hot_path:
        names.remove(HOT_PATH)
    return names


@pytest.fixture(autouse=True)
def _recorded() -> Iterator[None]:
    with override_settings(MIDDLEWARE=middleware(hot_path=True)):
        yield


def whole_stack() -> override_settings:
    """The settings without the hot path (a client made inside loads this stack)."""
    return override_settings(MIDDLEWARE=middleware(hot_path=False))


def took_hot_path(response: Any) -> bool:
    return not getattr(response.wsgi_request, "reached_whole_stack", False)


def url(campaign: Campaign, lang: str = "en") -> str:
    return f"/{lang}/{campaign.edition.year}/voices/{campaign.slug}/"


def signer(campaign: Campaign, lang: str = "en", **headers: str) -> tuple[Client, str]:
    """A browser that opened the campaign page: a client that enforces CSRF checks, with the
    cookie and the form's token of that page."""
    client = Client(enforce_csrf_checks=True, headers=headers)
    page = client.get(url(campaign, lang))
    assert page.status_code == 200
    match = TOKEN.search(page.content.decode())
    assert match, "no CSRF token in the sign form"
    return client, match.group(1)


def comparable_headers(response: Any) -> dict[str, str]:
    """The answer's headers, without what legitimately differs between two answers (a CSP
    nonce, the value of a cookie; the test client adds no Date)."""
    headers = {key: NONCE.sub("'nonce-*'", value) for key, value in response.items()}
    headers.pop("Date", None)
    return headers


def written() -> tuple[int, int]:
    return Signature.objects.count(), OutboxEmail.objects.count()


def stored(signature: Signature) -> dict[str, Any]:
    """What a signature stores that does not depend on its address or on chance."""
    return {
        "status": signature.status,
        "language": signature.language,
        "country": signature.country,
        "name": signature.name,
        "show_name": signature.show_name,
        "city": signature.city,
        "message": signature.message,
        "wants_news": signature.wants_news,
        "consent_version": signature.consent_version,
        "email_domain": signature.email_domain,
        "prefix_hash": signature.prefix_hash,
        "flags": signature.flags,
        "review": signature.review,
        "message_status": signature.message_status,
        "has_tokens": (bool(signature.confirm_token_hash), bool(signature.withdraw_token_hash)),
        "abuse_window": signature.abuse_until - signature.created_at,  # type: ignore[operator]
        "confirm_window": signature.confirm_by - signature.created_at,  # type: ignore[operator]
    }


# --- the hot path answers as the whole stack ------------------------------------------------


@pytest.mark.parametrize("lang", ["en", "fa", "fr"])
@pytest.mark.parametrize("with_proof", [False, True])
def test_a_signature_is_answered_and_stored_as_by_the_whole_stack(
    lang: str, with_proof: bool, proof_of_work: Callable[[], str]
) -> None:
    campaign = CampaignFactory()
    hot_client, hot_token = signer(campaign, lang)
    hot = hot_client.post(
        url(campaign, lang),
        form_data(
            email="hot@example.org",
            language=lang,
            altcha=proof_of_work() if with_proof else "",
            csrfmiddlewaretoken=hot_token,
        ),
    )
    with whole_stack():
        whole_client, whole_token = signer(campaign, lang)
        whole = whole_client.post(
            url(campaign, lang),
            form_data(
                email="whole@example.org",
                language=lang,
                altcha=proof_of_work() if with_proof else "",
                csrfmiddlewaretoken=whole_token,
            ),
        )

    assert took_hot_path(hot)
    assert not took_hot_path(whole)
    assert hot.status_code == whole.status_code == 302
    assert hot["Location"] == whole["Location"] == url(campaign, lang) + "sent/"
    assert comparable_headers(hot) == comparable_headers(whole)
    assert hot["Content-Language"] == lang
    assert hot["X-Frame-Options"] == "DENY"
    assert sorted(hot.cookies) == sorted(whole.cookies)
    # The same database effect: one pending signature and its confirmation email each.
    by_hot = Signature.objects.get(email_hash__in=_hashes("hot@example.org"))
    by_whole = Signature.objects.get(email_hash__in=_hashes("whole@example.org"))
    assert stored(by_hot) == stored(by_whole)
    assert by_hot.status == Signature.Status.PENDING
    assert by_hot.flags == ([] if with_proof else [services.Flag.NO_PROOF])
    emails = {email.recipient: email for email in OutboxEmail.objects.all()}
    assert set(emails) == {"hot@example.org", "whole@example.org"}
    hot_email, whole_email = emails["hot@example.org"], emails["whole@example.org"]
    assert (hot_email.kind, hot_email.language, hot_email.status) == (
        whole_email.kind,
        whole_email.language,
        whole_email.status,
    )
    assert hot_email.kind == "voices.confirm" and hot_email.language == lang
    assert set(hot_email.context) == set(whole_email.context)


def _hashes(email: str) -> list[str]:
    return blind_indexes(canonical_email(email), purpose="voices-email")


def test_the_answer_is_the_views_and_the_following_page_works() -> None:
    campaign = CampaignFactory()
    client, token = signer(campaign)

    response = client.post(url(campaign), form_data(csrfmiddlewaretoken=token), follow=True)

    assert response.redirect_chain == [(url(campaign) + "sent/", 302)]
    assert response.status_code == 200
    assert written() == (1, 1)


@pytest.mark.parametrize("how", ["staff session", "stale session cookie", "query string"])
def test_a_session_or_a_query_goes_down_the_whole_stack(how: str, django_user_model: Any) -> None:
    campaign = CampaignFactory()
    client = Client(enforce_csrf_checks=True)
    if how == "staff session":
        # Staff trying the form: sessions, time-outs and the second factor apply.
        user = django_user_model.objects.create_user("tester", password="x" * 20, is_staff=True)
        sign_in_staff(client, user)
    elif how == "stale session cookie":
        client.cookies[settings.SESSION_COOKIE_NAME] = "not-a-session"
    page = client.get(url(campaign))
    token = TOKEN.search(page.content.decode())
    assert token
    path = url(campaign) + ("?from=newsletter" if how == "query string" else "")

    response = client.post(path, form_data(csrfmiddlewaretoken=token.group(1)))

    assert not took_hot_path(response)
    if how == "staff session":
        assert response.wsgi_request.user == user  # type: ignore[attr-defined]
    assert response.status_code == 302
    assert response["Location"] == url(campaign) + "sent/"
    assert written() == (1, 1)


# --- what falls through to the whole stack --------------------------------------------------


@pytest.mark.parametrize("lang", ["fa", "fr"])
def test_form_errors_are_the_views_page_in_the_visitors_language(lang: str) -> None:
    campaign = CampaignFactory()
    client, token = signer(campaign, lang)

    response = client.post(
        url(campaign, lang), form_data(country="ZZ", language=lang, csrfmiddlewaretoken=token)
    )

    assert not took_hot_path(response)
    assert response.status_code == 400
    assert response["Content-Language"] == lang
    with translation.override(lang):
        expected = translation.gettext("Choose a country from the list.")
    assert expected != "Choose a country from the list."  # translated, or the check proves nothing
    assert escape(expected) in response.content.decode()
    assert written() == (0, 0)


@pytest.mark.parametrize("lang", ["en", "fa"])
def test_a_closed_campaign_is_a_409_with_nothing_written(lang: str) -> None:
    campaign = CampaignFactory(
        opens_at=now() - dt.timedelta(days=10), closes_at=now() - dt.timedelta(days=1)
    )
    # A closed campaign's page has no form: the page was opened before it closed (the token
    # of any page of the site will do).
    client, token = signer(CampaignFactory(edition=campaign.edition), lang)

    response = client.post(url(campaign, lang), form_data(language=lang, csrfmiddlewaretoken=token))

    assert not took_hot_path(response)
    assert response.status_code == 409
    with translation.override(lang):
        expected = str(CampaignClosedError.default_message)
    assert escape(expected) in response.content.decode()
    assert written() == (0, 0)


def test_an_unknown_or_unpublished_campaign_is_a_404() -> None:
    campaign = CampaignFactory()
    hidden = CampaignFactory(edition=campaign.edition, is_published=False)
    client, token = signer(campaign)
    year = campaign.edition.year

    answers = [
        client.post(path, form_data(csrfmiddlewaretoken=token))
        for path in (
            f"/en/{year}/voices/no-such-campaign/",
            f"/en/{year + 1}/voices/{campaign.slug}/",
            url(hidden),
            f"/de/{year}/voices/{campaign.slug}/",  # not a language of the site
        )
    ]

    assert [response.status_code for response in answers] == [404, 404, 404, 404]
    assert not any(took_hot_path(response) for response in answers)
    assert written() == (0, 0)


@pytest.mark.parametrize(
    "breakage",
    ["no token", "wrong token", "no cookie", "cross-site null origin", "other origin"],
)
def test_a_csrf_failure_is_refused_as_by_the_whole_stack(breakage: str) -> None:
    campaign = CampaignFactory()

    def post() -> Any:
        client, token = signer(campaign)
        data = form_data(csrfmiddlewaretoken=token)
        headers: dict[str, str] = {}
        if breakage == "no token":
            del data["csrfmiddlewaretoken"]
        elif breakage == "wrong token":
            data["csrfmiddlewaretoken"] = "x" * 64
        elif breakage == "no cookie":
            client.cookies.pop(settings.CSRF_COOKIE_NAME)
        elif breakage == "cross-site null origin":
            headers = {"origin": "null", "sec-fetch-site": "cross-site"}
        else:
            headers = {"origin": "https://elsewhere.example", "sec-fetch-site": "same-origin"}
        return client.post(url(campaign), data, headers=headers)

    hot = post()
    with whole_stack():
        whole = post()

    # The hot path answers Django's refusal itself (what it would have become anyway).
    assert took_hot_path(hot)
    assert hot.status_code == whole.status_code == 403
    assert comparable_headers(hot) == comparable_headers(whole)
    assert NONCE.sub("", hot.content.decode()) == NONCE.sub("", whole.content.decode())
    assert "CSRF" in hot.content.decode()
    assert written() == (0, 0)


def test_a_same_origin_null_origin_is_accepted_as_by_the_whole_stack() -> None:
    campaign = CampaignFactory()
    headers = {"origin": "null", "sec-fetch-site": "same-origin"}
    hot_client, hot_token = signer(campaign)
    hot = hot_client.post(url(campaign), form_data(csrfmiddlewaretoken=hot_token), headers=headers)
    with whole_stack():
        whole_client, whole_token = signer(campaign)
        whole = whole_client.post(
            url(campaign),
            form_data(email="other@example.org", csrfmiddlewaretoken=whole_token),
            headers=headers,
        )

    assert took_hot_path(hot)
    assert hot.status_code == whole.status_code == 302
    assert comparable_headers(hot) == comparable_headers(whole)
    assert written() == (2, 2)


def test_a_host_not_allowed_is_a_400_from_the_whole_stack() -> None:
    campaign = CampaignFactory()
    client, token = signer(campaign)

    response = client.post(
        url(campaign), form_data(csrfmiddlewaretoken=token), headers={"host": "evil.example"}
    )

    assert not took_hot_path(response)
    assert response.status_code == 400
    assert written() == (0, 0)


def test_a_second_signature_with_another_spelling_gets_the_same_answer_and_no_row() -> None:
    campaign = CampaignFactory()
    client, token = signer(campaign)

    first = client.post(url(campaign), form_data(csrfmiddlewaretoken=token))
    second = client.post(
        url(campaign), form_data(email="  MARYAM@Example.ORG ", csrfmiddlewaretoken=token)
    )

    assert took_hot_path(first) and took_hot_path(second)
    assert first.status_code == second.status_code == 302
    assert comparable_headers(first) == comparable_headers(second)
    assert Signature.objects.count() == 1
    # The email (not the page) tells the owner of the address that it had signed.
    assert list(OutboxEmail.objects.order_by("pk").values_list("kind", flat=True)) == [
        "voices.confirm",
        "voices.already_signed",
    ]


@pytest.mark.parametrize(
    ("overrides", "flags"),
    [
        ({"website": "http://spam.example"}, [services.Flag.NO_PROOF, services.Flag.HONEYPOT]),
        ({"altcha": ""}, [services.Flag.NO_PROOF]),
        ({"altcha": "bm90IGEgcHJvb2Y="}, [services.Flag.BAD_PROOF]),
    ],
)
def test_a_bot_like_signature_is_flagged_not_refused(
    overrides: dict[str, str], flags: list[str]
) -> None:
    campaign = CampaignFactory()
    client, token = signer(campaign)

    response = client.post(url(campaign), form_data(**overrides, csrfmiddlewaretoken=token))

    assert took_hot_path(response)
    assert response.status_code == 302
    assert Signature.objects.get().flags == flags
    assert OutboxEmail.objects.count() == 1


def test_a_proof_of_work_used_twice_is_flagged_the_second_time(
    proof_of_work: Callable[[], str],
) -> None:
    campaign = CampaignFactory()
    client, token = signer(campaign)
    proof = proof_of_work()

    answers = [
        client.post(url(campaign), form_data(email=email, altcha=proof, csrfmiddlewaretoken=token))
        for email in ("first@example.org", "second@example.org")
    ]

    assert all(took_hot_path(response) for response in answers)
    assert [response.status_code for response in answers] == [302, 302]
    flags = {signature.email: signature.flags for signature in Signature.objects.order_by("pk")}
    assert flags == {
        "first@example.org": [],
        "second@example.org": [services.Flag.REPLAYED_PROOF],
    }


# --- hostile input --------------------------------------------------------------------------


def _encode(fields: Iterable[tuple[str, str]]) -> str:
    return urllib.parse.urlencode(list(fields))


HOSTILE_BODIES: dict[str, Callable[[dict[str, str]], str]] = {
    "long message": lambda base: _encode([*base.items(), ("message", "x" * 5000)]),
    "long name": lambda base: _encode({**base, "name": "ن" * 10_000}.items()),
    "long proof": lambda base: _encode({**base, "altcha": "A" * 100_000}.items()),
    "body over the upload limit": lambda base: _encode(
        {**base, "message": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)}.items()
    ),
    "too many fields": lambda base: _encode(
        [*base.items(), *((f"f{i}", "1") for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS))]
    ),
    "invalid UTF-8 name": lambda base: _encode({**base, "name": ""}.items()).replace(
        "name=", "name=%ff%fe%c3%28"
    ),
    "invalid UTF-8 email": lambda base: _encode({**base, "email": ""}.items()).replace(
        "email=", "email=%c0%afa%80@example.org"
    ),
    "invalid UTF-8 field name": lambda base: _encode(base.items()) + "&%ff%fe=1",
    "invalid UTF-8 token": lambda base: _encode(
        {**base, "csrfmiddlewaretoken": ""}.items()
    ).replace("csrfmiddlewaretoken=", "csrfmiddlewaretoken=%ff%80"),
    "bad percent escapes": lambda base: _encode(base.items()) + "&city=%zz%%%4",
    "NUL in the name": lambda base: _encode({**base, "name": "Ali\x00Reza"}.items()),
    "zero-width email": lambda base: _encode({**base, "email": "a\u200b@example.org"}.items()),
    "direction override name": lambda base: _encode({**base, "name": "\u202eAli"}.items()),
    "direction override city": lambda base: _encode({**base, "city": "\u2067Paris\u2069"}.items()),
    "repeated email": lambda base: _encode(
        [*base.items(), ("email", "two@example.org"), ("email", "three@example.org")]
    ),
    "repeated token": lambda base: _encode([*base.items(), ("csrfmiddlewaretoken", "x" * 64)]),
    "repeated consent": lambda base: _encode([*base.items(), ("consent", ""), ("consent", "on")]),
    "repeated country": lambda base: _encode([*base.items(), ("country", "ZZ")]),
    "only separators": lambda base: "&&&===&",
    "no body": lambda base: "",
}


@pytest.mark.parametrize("lang", ["en", "fa"])
@pytest.mark.parametrize("name", sorted(HOSTILE_BODIES))
def test_hostile_bodies_get_the_whole_stacks_answer_and_never_half_a_row(
    name: str, lang: str
) -> None:
    hot_campaign = CampaignFactory()
    whole_campaign = CampaignFactory(edition=hot_campaign.edition)

    def post(campaign: Campaign) -> Any:
        client, token = signer(campaign, lang)
        body = HOSTILE_BODIES[name](form_data(csrfmiddlewaretoken=token))
        return client.post(url(campaign, lang), body, content_type=FORM)

    def headers(response: Any) -> dict[str, str]:
        # The two campaigns' pages differ in length, and their redirects in the address.
        different = {"Content-Length", "Location"}
        return {k: v for k, v in comparable_headers(response).items() if k not in different}

    hot = post(hot_campaign)
    by_hot = written()
    with whole_stack():
        whole = post(whole_campaign)
    by_whole = tuple(after - before for after, before in zip(written(), by_hot, strict=True))

    assert hot.status_code < 500 and whole.status_code < 500
    assert hot.status_code == whole.status_code
    assert headers(hot) == headers(whole)
    assert ("Content-Length" in hot) == ("Content-Length" in whole)
    assert hot["Content-Language"] == lang
    if hot.status_code == 302:
        assert took_hot_path(hot)
        assert hot["Location"] == url(hot_campaign, lang) + "sent/"
    # Signed (a row and its email) or refused (nothing at all), the same by both.
    assert by_hot == by_whole == ((1, 1) if hot.status_code == 302 else (0, 0))


@hypothesis_settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    field=st.sampled_from(["name", "email", "country", "city", "message", "language", "altcha"]),
    raw=st.binary(max_size=300),
    repeat=st.booleans(),
)
def test_any_bytes_in_a_field_are_signed_or_refused_cleanly(
    field: str, raw: bytes, repeat: bool
) -> None:
    campaign = _campaign()
    client, token = signer(campaign)
    body = _encode(form_data(csrfmiddlewaretoken=token).items())
    # Any bytes, percent-encoded as a browser would send them (invalid UTF-8 included).
    value = urllib.parse.quote_from_bytes(raw, safe="")
    body = re.sub(rf"(^|&){field}=[^&]*", rf"\g<1>{field}={value}", body)
    if repeat:
        body += f"&{field}={value}"
    before = written()

    response = client.post(url(campaign), body, content_type=FORM)

    after = written()
    assert response.status_code in {302, 400}, response.status_code
    if response.status_code == 302:
        assert took_hot_path(response)
        # A new signature with its email, or (the same address again) only an email.
        assert after[1] == before[1] + 1 and after[0] in {before[0], before[0] + 1}
    else:
        assert after == before


def _campaign() -> Campaign:
    return Campaign.objects.filter(slug="fast-path-bytes").first() or CampaignFactory(
        slug="fast-path-bytes"
    )
