"""A plain post read without the form (``voices/plain_post.py``) gives what the form gives.

Whatever is posted, when ``plain_sign_request`` answers, the form is valid and its
``sign_request`` is the same request once ``services.sign`` has cleaned both; when the form is
valid for an ordinary browser post, ``plain_sign_request`` answers (the hot path is taken). The
checks of ``voices/validation.py`` that the form runs and the service runs again accept their
own output unchanged, which is what makes one run of them (the plain way) store the same as
two (the form's way)."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.http import QueryDict
from django.utils import translation
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from gathering.privacy.consent_versions import SHOWN_VERSION_FIELD
from gathering.voices import services, validation
from gathering.voices.errors import InvalidSignatureDataError
from gathering.voices.forms import SignForm
from gathering.voices.models import Campaign
from gathering.voices.plain_post import plain_sign_request
from gathering.voices.tests.factories import CampaignFactory, form_data

pytestmark = pytest.mark.django_db

TEXT = st.text(max_size=120)
ODD = st.sampled_from(
    ["", " ", "  x  ", "\u202e", "\u200b", "\x00", "<b>", "علی", "a" * 300, "\t\n", "x" * 5000]
)
CHECKBOX = st.sampled_from(["on", "", "true", "TRUE", "false", "False", "0", "1", "yes", " on"])
FIELD_VALUES: dict[str, Any] = {
    "name": st.one_of(TEXT, ODD),
    "show_name": CHECKBOX,
    "email": st.one_of(
        st.emails().map(str),
        st.sampled_from(["A.B+x@Gmail.com", " maryam@example.org ", "no-at", "a@b", ""]),
        TEXT,
    ),
    "country": st.sampled_from(["FR", "IR", "fr", "XX", "", " FR", "ZZZ"]),
    "city": st.one_of(TEXT, ODD),
    "message": st.one_of(TEXT, ODD),
    "language": st.sampled_from(["en", "fa", "fr", "de", "", "EN", " en"]),
    "consent": CHECKBOX,
    "wants_news": CHECKBOX,
    "website": st.sampled_from(["", " ", "http://spam.example ", "x" * 150]),
    "altcha": st.one_of(st.sampled_from(["", " ", " proof ", "x" * 4001]), TEXT),
    SHOWN_VERSION_FIELD: st.sampled_from(["current", "old", ""]),
}
# A browser's post, each field of which may be left as it is (most often), replaced by one or
# two (the form reads the last) odd values, or left out.
BROWSER = {**form_data(wants_news=""), SHOWN_VERSION_FIELD: "current"}
POSTS = st.fixed_dictionaries(
    {
        key: st.one_of(
            st.just([BROWSER[key]]),
            st.just([BROWSER[key]]),
            st.just([BROWSER[key]]),
            st.lists(values, min_size=1, max_size=2),
            st.just([]),
        )
        for key, values in FIELD_VALUES.items()
    }
).map(lambda post: {key: values for key, values in post.items() if values})
SHAPES = st.sampled_from(
    [(True, True, True), (False, False, False), (True, False, True), (False, True, False)]
)


def query(post: dict[str, list[str]], *, version: str) -> QueryDict:
    data = QueryDict(mutable=True)
    for key, values in post.items():
        for value in values:
            shown = version if value == "current" else value
            data.appendlist(key, shown if key == SHOWN_VERSION_FIELD else value)
    return data


def campaign_of(shape: tuple[bool, bool, bool]) -> Campaign:
    asks_name, asks_city, asks_message = shape
    slug = "plain-{}{}{}".format(*(int(ask) for ask in shape))
    return Campaign.objects.filter(slug=slug).first() or CampaignFactory(
        slug=slug, asks_name=asks_name, asks_city=asks_city, asks_message=asks_message
    )


def stored(campaign: Campaign, request: services.SignRequest) -> Any:
    """What ``services.sign`` makes of ``request`` before writing: the cleaned values, or the
    fields it refuses."""
    try:
        return dataclasses.asdict(services._clean(campaign, request))
    except InvalidSignatureDataError as error:
        return {"refused": sorted(error.errors)}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(post=POSTS, shape=SHAPES, language=st.sampled_from(["en", "fa", "fr"]))
@example(
    post={
        "email": ["maryam@example.org"],
        "country": ["FR"],
        "language": ["en"],
        "consent": ["on"],
        "name": ["  Maryam  "],
    },
    shape=(True, True, True),
    language="en",
)
def test_a_plain_reading_is_the_forms_reading(
    post: dict[str, list[str]], shape: tuple[bool, bool, bool], language: str
) -> None:
    campaign = campaign_of(shape)
    with translation.override(language):
        form = SignForm(query(post, version=_version(campaign)), campaign=campaign)
        plain = plain_sign_request(
            query(post, version=_version(campaign)),
            campaign,
            language=language,
            client_ip="192.0.2.7",
        )
        valid = form.is_valid()
    if plain is None or "refused" in stored(campaign, plain):
        return  # the form decides (services.sign refused it before writing anything)
    assert valid, form.errors
    by_form = form.sign_request(client_ip="192.0.2.7")
    assert stored(campaign, plain) == stored(campaign, by_form)
    assert dataclasses.replace(plain, name="", email="", country="", city="", message="") == (
        dataclasses.replace(by_form, name="", email="", country="", city="", message="")
    )


@settings(max_examples=150, deadline=None)
@given(
    shape=SHAPES,
    language=st.sampled_from(["en", "fa", "fr"]),
    name=st.text(alphabet=st.characters(categories=["L", "Zs"]), max_size=40),
    show_name=st.sampled_from(["on", ""]),
    wants_news=st.sampled_from(["on", ""]),
    email=st.emails().map(str),
    with_version=st.booleans(),
)
def test_a_browsers_valid_post_is_read_plainly(
    shape: tuple[bool, bool, bool],
    language: str,
    name: str,
    show_name: str,
    wants_news: str,
    email: str,
    with_version: bool,
) -> None:
    campaign = campaign_of(shape)
    fields = {
        "email": email,
        "country": "IR",
        "language": language,
        "consent": "on",
        "website": "",
        "altcha": "",
        "wants_news": wants_news,
        "name": name,
        "show_name": show_name,
        "city": "Köln",
        "message": "",
    }
    if with_version:
        fields[SHOWN_VERSION_FIELD] = _version(campaign)
    post = query({key: [value] for key, value in fields.items()}, version="")
    with translation.override(language):
        form_valid = SignForm(post, campaign=campaign).is_valid()
        plain = plain_sign_request(post, campaign, language=language, client_ip="192.0.2.7")
    if form_valid:
        assert plain is not None


def test_what_the_form_refuses_is_left_to_it() -> None:
    campaign = campaign_of((True, True, True))
    base = {"email": "a@example.org", "country": "FR", "language": "en", "consent": "on"}
    refused = [
        {**base, "consent": ""},
        {**base, "email": ""},
        {**base, "country": "XX"},
        {**base, "language": "de"},
        {**base, "name": "x" * (validation.NAME_MAX_LENGTH + 1)},
        {**base, "city": "Paris\x00"},
        {**base, "altcha": "x" * 4001},
        {**base, SHOWN_VERSION_FIELD: "an older version"},
        {**base, "show_name": "yes"},  # the form reads it as ticked; the plain reading leaves it
    ]
    for fields in refused:
        post = query({key: [value] for key, value in fields.items()}, version="")
        with translation.override("en"):
            assert plain_sign_request(post, campaign, language="en", client_ip="192.0.2.7") is None


@settings(max_examples=300, deadline=None)
@given(value=st.one_of(TEXT, ODD, st.emails().map(str)))
@example(value="  Maryam   Rajavi ")
@example(value="A.B+x@Gmail.com")
def test_each_check_accepts_its_own_output_unchanged(value: str) -> None:
    for check in (
        validation.clean_name,
        validation.clean_city,
        validation.clean_message,
        validation.clean_email,
        validation.clean_country,
    ):
        try:
            once = check(value.strip())
        except ValidationError:
            continue
        assert check(once) == once, check.__name__


def _version(campaign: Campaign) -> str:
    form = SignForm(campaign=campaign)
    return str(form.consent_text.version)
