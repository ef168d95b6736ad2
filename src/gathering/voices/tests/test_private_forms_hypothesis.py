"""Property tests of the signer's private forms (issue 6): the confirmation button and the
withdrawal, posted with anything, in every language, on signatures in every state, and on
links that are not links. The sign form has its own (``test_sign_form_properties.py``).

Whatever is posted, the answer is a success, the page again with a message in the language of
the address, or (for a link that opens nothing) the 404 page in that language; never a server
error, and the signature changes only as the answer says.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse

import pytest
from django.http import HttpResponse
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from gathering.core.testing.hostile import (
    LANGUAGES,
    SPOILT,
    TEXT,
    check_answer,
    csrf_token,
    form_data,
    post_form,
    properties,
)
from gathering.registration import tokens
from gathering.transparency.models import Entry
from gathering.voices import services
from gathering.voices.models import Campaign, Signature
from gathering.voices.selectors import count_by_country
from gathering.voices.tests.factories import CampaignFactory, sign_request

pytestmark = pytest.mark.django_db

Status = Signature.Status
PROPERTIES = properties(30)
STATES = st.sampled_from(["pending", "confirmed", "withdrawn", "expired", "flagged"])
# A link's token: a real one, or anything a hand or a script could put in the address.
LINKS = st.one_of(st.just("real"), st.just("real"), st.just("real"), TEXT, st.just("a" * 43))


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def campaign() -> Campaign:
    return CampaignFactory(slug="private-forms")


@pytest.fixture
def token(browser: Client, campaign: Campaign) -> str:
    return csrf_token(browser, f"/en/{campaign.edition.year}/voices/{campaign.slug}/")


def signature_in(campaign: Campaign, state: str) -> tuple[Signature, str, str]:
    """A signature of ``campaign`` in ``state``, with its confirmation and withdrawal tokens."""
    signature = services.sign(campaign=campaign, request=sign_request()).signature
    confirm, withdraw = tokens.new_token(), tokens.new_token()
    Signature.objects.filter(pk=signature.pk).update(
        confirm_token_hash=tokens.hash_token(confirm),
        withdraw_token_hash=tokens.hash_token(withdraw),
        # Signed without a proof of work (flagged): only "flagged" keeps the flag.
        flags=signature.flags if state == "flagged" else [],
    )
    if state in {"confirmed", "withdrawn"}:
        services.confirm(token=confirm)
    if state == "withdrawn":
        services.withdraw(token=withdraw)
    if state == "expired":
        Signature.objects.filter(pk=signature.pk).update(
            created_at=signature.created_at - dt.timedelta(days=30),
            confirm_by=signature.created_at - dt.timedelta(days=23),
        )
    signature.refresh_from_db()
    return signature, confirm, withdraw


def snapshot(signature: Signature) -> tuple[object, ...]:
    signature.refresh_from_db()
    return (signature.status, signature.review, signature.leaf_id, signature.name, signature.email)


def path_token(drawn: str, real: str) -> str:
    return real if drawn == "real" else urllib.parse.quote(drawn, safe="")


def check_not_found(response: HttpResponse, language: str) -> None:
    """The 404 page, in the language of the address."""
    assert response.status_code == 404, response.status_code
    assert response["Content-Language"] == language
    assert f'<html lang="{language}"' in response.content.decode()


@PROPERTIES
@given(
    state=STATES,
    link=LINKS,
    data=form_data({"extra": TEXT}),
    language=LANGUAGES,
)
def test_confirmation_button(
    browser: Client,
    token: str,
    campaign: Campaign,
    state: str,
    link: str,
    data: dict[str, str],
    language: str,
) -> None:
    signature, confirm, _withdraw = signature_in(campaign, state)
    before = snapshot(signature)
    counted = count_by_country(campaign=campaign, fresh=True).total
    entries = Entry.objects.count()
    path = f"/{language}/voice/{path_token(link, confirm)}/confirm/"
    response = post_form(browser, path, data, token=token)
    if link != "real":
        check_not_found(response, language)
        assert snapshot(signature) == before
        return
    if not check_answer(response, language=language, form_names=()):
        # Withdrawn, or too late: the page says so, and nothing changed.
        assert state in {"withdrawn", "expired"}, (state, response.status_code)
        assert snapshot(signature) == before and Entry.objects.count() == entries
        return
    assert response["Location"] == f"/{language}/voice/{confirm}/"
    signature.refresh_from_db()
    assert signature.status == Status.CONFIRMED
    now_counted = count_by_country(campaign=campaign, fresh=True).total
    if state == "pending":  # counted once, with its one leaf
        assert now_counted == counted + 1 and Entry.objects.count() == entries + 1
    else:  # confirming again, or held for review: no second count
        assert now_counted == counted and Entry.objects.count() == entries
        assert state == "confirmed" or signature.review == Signature.Review.HELD


@PROPERTIES
@given(
    state=STATES,
    link=LINKS,
    by=st.sampled_from(["withdraw", "confirm"]),
    data=form_data({"action": st.just("withdraw"), "extra": TEXT}, {"action": SPOILT}),
    language=LANGUAGES,
)
def test_withdrawal(
    browser: Client,
    token: str,
    campaign: Campaign,
    state: str,
    link: str,
    by: str,
    data: dict[str, str],
    language: str,
) -> None:
    signature, confirm, withdraw = signature_in(campaign, state)
    before = snapshot(signature)
    counted = count_by_country(campaign=campaign, fresh=True).total
    real = withdraw if by == "withdraw" else confirm  # both open the private page
    path = f"/{language}/voice/{path_token(link, real)}/"
    response = post_form(browser, path, data, token=token)
    if link != "real":
        check_not_found(response, language)
        assert snapshot(signature) == before
        return
    if not check_answer(response, language=language, success={200}, form_names=()):
        assert data.get("action") != "withdraw"
        assert snapshot(signature) == before
        return
    assert data.get("action") == "withdraw"
    signature.refresh_from_db()
    assert signature.status == Status.WITHDRAWN
    assert (signature.name, signature.city, signature.message, signature.email) == (None,) * 4
    was_counted = state == "confirmed"
    assert count_by_country(campaign=campaign, fresh=True).total == counted - was_counted
