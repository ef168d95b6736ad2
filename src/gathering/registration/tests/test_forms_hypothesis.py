"""Property tests of every public registration form (issue 6): whatever is posted, the answer
is a success or the form again with its errors in the language of the address, never a server
error, and nothing half-written.

Forms: the registration form of a category, the delegation leader's form, the member's form
of an invitation link, "lost link", and on the private link: confirm (with or without consent
to give), accept an offered place, change name and language, cancel, erase, and the leader's
delegation page (start a delegation, add, remove, renew). Posts go as a browser sends them:
form-encoded, with the CSRF token of a page, through a client that checks it.

Hypothesis runs the examples of a test in one database transaction: counts are compared per
example (before and after its post), and objects a post may change are made per example.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import translation
from hypothesis import given
from hypothesis import strategies as st

from gathering.core.crypto import blind_index
from gathering.core.testing.hostile import (
    BOOLEAN,
    LANGUAGES,
    NUMBER,
    TEXT,
    check_answer,
    csrf_token,
    field,
    form_data,
    post_form,
    properties,
)
from gathering.outbox.models import OutboxEmail
from gathering.registration import services, tokens, validation
from gathering.registration.consent import VERSION
from gathering.registration.models import Category, Delegation, Question, Registration, Ticket
from gathering.registration.tests.factories import CategoryFactory, QuestionFactory

pytestmark = pytest.mark.django_db

Status = Registration.Status
PROPERTIES = properties(30)
_numbers = itertools.count(1)

# Plausible values (examples spoil some of them: see ``form_data``).
NAME = st.one_of(
    st.sampled_from(["Zahra Rahimi", "زهرا رحیمی", "Zoë Ågren", "Jean-Luc O'Neil", "ZWNJ‌دار"]),
    st.text(st.characters(categories=("L", "M", "Zs")), min_size=1, max_size=80),
)
EMAIL = st.one_of(
    st.builds("person{}@example.org".format, st.integers(0, 10**9)),
    st.sampled_from(["someone@example.org", " SOMEONE@Example.ORG ", "leader@example.org"]),
    st.emails().map(str),
)
WORDS = st.text(st.characters(categories=("L", "M", "N", "P", "Zs")), max_size=200)
PERSON = {
    "name": NAME,
    "email": EMAIL,
    "language": st.sampled_from(["en", "fa", "fr"]),
    "country": st.sampled_from(["FR", "IR", "DE", "US"]),
}
HOSTILE_BY_FIELD = {
    "language": field("de", "EN", "fa-IR"),
    "country": field("XX", "ZZZ", "IRN", "fr", " DE "),
    "consent": BOOLEAN,
    "sure": BOOLEAN,
    "expected_size": NUMBER,
    "q_diet": field("VEGETARIAN", "meat"),
    "q_needs": field("true", "1", "YES"),
    "action": field("ADD", "delete", "add\x00", ""),
    "member": NUMBER,
}
REGISTRATION = {
    **PERSON,
    "phone": st.sampled_from(["", "+33 1 23 45 67 89", "+98 (21) 1234-5678"]),
    "q_diet": st.sampled_from(["vegetarian", "none"]),
    "q_needs": st.sampled_from(["yes", "no", ""]),
    "q_note": st.one_of(st.just(""), WORDS),
    "consent": st.just("on"),
    "consent_version": st.just(VERSION),
}
PERSON_FORM = {key: value for key, value in REGISTRATION.items() if not key.startswith("q_")}
DELEGATION = {
    "city": st.one_of(st.sampled_from(["Berlin", "برلین", "Saint-Étienne"]), NAME),
    "departure_country": PERSON["country"],
    "transport": st.sampled_from(["coach", "train", "plane", "car", "other"]),
    "expected_size": st.integers(1, 2000).map(str),
}


def hostile(plausible: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[dict[str, str]]:
    return form_data(plausible, HOSTILE_BY_FIELD)


def url(name: str, language: str, **kwargs: Any) -> str:
    with translation.override(language):
        return reverse(f"registration:{name}", kwargs=kwargs)


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def category() -> Category:
    category = CategoryFactory(slug="attendee", capacity=10_000)
    QuestionFactory(
        category=category,
        key="diet",
        kind=Question.Kind.CHOICE,
        required=True,
        choices=[
            {"value": "vegetarian", "label": {"en": "Vegetarian"}},
            {"value": "none", "label": {"en": "No preference"}},
        ],
    )
    QuestionFactory(category=category, key="needs", kind=Question.Kind.YES_NO, required=False)
    QuestionFactory(category=category, key="note", kind=Question.Kind.TEXT, required=False)
    return category


@pytest.fixture
def delegation_category(category: Category) -> Category:
    return CategoryFactory(
        edition=category.edition,
        kind=Category.Kind.DELEGATION_MEMBER,
        is_public=False,
        slug="delegation",
        capacity=10_000,
    )


@pytest.fixture
def token(browser: Client, category: Category) -> str:
    """The CSRF token of the registration form (it serves every form of the client)."""
    return csrf_token(
        browser,
        url("registration-create", "en", year=category.edition.year, slug=category.slug),
    )


def person(category: Category, **overrides: Any) -> Registration:
    n = next(_numbers)
    data: dict[str, Any] = {
        "name": f"Person {n}",
        "email": f"hypothesis-{n}@example.org",
        "language": "en",
        "country": "FR",
        "consent": True,
        "answers": {"diet": "none"} if category.questions.exists() else {},
    }
    data.update(overrides)
    return services.register(category=category, **data).registration


def link(registration: Registration) -> str:
    """A private-link token of ``registration`` that the test knows (the email's is not read)."""
    token = tokens.new_token()
    Registration.objects.filter(pk=registration.pk).update(
        manage_token_hash=tokens.hash_token(token)
    )
    return token


def counts() -> dict[str, int]:
    return {
        "registrations": Registration.objects.count(),
        "delegations": Delegation.objects.count(),
        "tickets": Ticket.objects.count(),
        "emails": OutboxEmail.objects.count(),
    }


def changed(before: dict[str, int]) -> dict[str, int]:
    after = counts()
    return {key: after[key] - before[key] for key in before if after[key] != before[key]}


# --- registering -----------------------------------------------------------------------------


@PROPERTIES
@given(data=hostile(REGISTRATION), language=LANGUAGES)
def test_registration_form(
    browser: Client, token: str, category: Category, data: dict[str, str], language: str
) -> None:
    before = counts()
    path = url("registration-create", language, year=category.edition.year, slug=category.slug)
    response = post_form(browser, path, data, token=token)
    if not check_answer(response, language=language):
        assert changed(before) == {}, "a refused registration wrote something"
        return
    # A new registration with its email, or the existing one's link emailed again.
    assert changed(before) in ({"registrations": 1, "emails": 1}, {"emails": 1})
    registration = Registration.objects.get(email_index=_index(data["email"]))
    assert registration.name == validation.clean_name(registration.name or "")
    assert registration.status in {Status.PENDING, Status.CONFIRMED}


@PROPERTIES
@given(
    data=hostile({**PERSON_FORM, **DELEGATION}),
    language=LANGUAGES,
)
def test_delegation_leader_form(
    browser: Client,
    token: str,
    delegation_category: Category,
    data: dict[str, str],
    language: str,
) -> None:
    before = counts()
    path = url("delegation-create", language, year=delegation_category.edition.year)
    response = post_form(browser, path, data, token=token)
    if not check_answer(response, language=language):
        assert changed(before) == {}, "a refused delegation wrote something"
        return
    # Registered and led a new delegation (two emails), or only the link again.
    assert changed(before) in (
        {"registrations": 1, "delegations": 1, "emails": 2},
        {"emails": 1},
    )


@PROPERTIES
@given(
    data=hostile(PERSON_FORM),
    language=LANGUAGES,
    invitation=st.sampled_from([True, True, True, False]),
)
def test_delegation_member_form(
    browser: Client,
    token: str,
    delegation_category: Category,
    data: dict[str, str],
    language: str,
    invitation: bool,
) -> None:
    delegation, invitation_token = _delegation(delegation_category)
    if not invitation:
        invitation_token = "x" * 43  # well formed, unknown
    before = counts()
    path = url(
        "delegation-join", language, year=delegation_category.edition.year, token=invitation_token
    )
    response = post_form(browser, path, data, token=token)
    if not invitation:
        assert response.status_code == 404
        assert changed(before) == {}
        return
    if not check_answer(response, language=language):
        assert changed(before) == {}, "a refused member wrote something"
        return
    delta = changed(before)
    assert delta in ({"registrations": 1, "emails": 1}, {"emails": 1})
    if delta.get("registrations"):
        member = Registration.objects.latest("pk")
        assert member.delegation_id == delegation.pk and member.has_consented


@PROPERTIES
@given(data=hostile({"email": EMAIL}), language=LANGUAGES)
def test_lost_link_form(
    browser: Client, token: str, category: Category, data: dict[str, str], language: str
) -> None:
    if not Registration.objects.filter(email_index=_index("someone@example.org")).exists():
        person(category, email="someone@example.org")
    before = counts()
    path = url("link-resend", language, year=category.edition.year)
    response = post_form(browser, path, data, token=token)
    if not check_answer(response, language=language):
        assert changed(before) == {}
        return
    # The same answer whether the address is registered (a new link) or not (nothing).
    assert changed(before) in ({}, {"emails": 1})


# --- the private link ------------------------------------------------------------------------

CONSENT = hostile({"consent": st.just("on"), "consent_version": st.just(VERSION), "extra": TEXT})


@PROPERTIES
@given(data=CONSENT, language=LANGUAGES, added_by_leader=st.booleans())
def test_confirm_form(
    browser: Client,
    token: str,
    delegation_category: Category,
    data: dict[str, str],
    language: str,
    added_by_leader: bool,
) -> None:
    if added_by_leader:
        delegation, _invitation = _delegation(delegation_category)
        registration = services.add_member(
            delegation=delegation,
            name="Member",
            email=f"member-{next(_numbers)}@example.org",
            language="en",
            country="DE",
        ).registration
    else:
        registration = person(delegation_category, leader=True)
    private = link(registration)
    before = counts()
    response = post_form(
        browser, url("registration-confirm", language, token=private), data, token=token
    )
    registration.refresh_from_db()
    if not check_answer(response, language=language):
        assert registration.status == Status.PENDING and changed(before) == {}
        return
    assert response["Location"].endswith(f"/registration/{private}/")
    assert registration.status == Status.CONFIRMED and registration.has_consented
    assert changed(before) == {"tickets": 1, "emails": 1}


@PROPERTIES
@given(data=CONSENT, language=LANGUAGES, consented=st.booleans())
def test_offer_accept_form(
    browser: Client,
    token: str,
    category: Category,
    data: dict[str, str],
    language: str,
    consented: bool,
) -> None:
    small = CategoryFactory(edition=category.edition, slug=f"small-{next(_numbers)}", capacity=1)
    holder = person(small)
    waiting = person(small)
    if not consented:  # as a member a delegation leader added, who consents when answering
        Registration.objects.filter(pk=waiting.pk).update(consented_at=None)
    services.cancel(registration=holder)
    waiting.refresh_from_db()
    assert waiting.status == Status.OFFERED
    private = link(waiting)
    before = counts()
    response = post_form(browser, url("offer-accept", language, token=private), data, token=token)
    waiting.refresh_from_db()
    if not check_answer(response, language=language):
        assert not consented
        assert waiting.status == Status.OFFERED and not waiting.has_consented
        assert changed(before) == {}
        return
    assert waiting.status == Status.CONFIRMED and waiting.has_consented
    assert changed(before) == {"tickets": 1, "emails": 1}


@PROPERTIES
@given(
    data=hostile({"name": NAME, "language": PERSON["language"]}),
    language=LANGUAGES,
)
def test_change_details_form(
    browser: Client, token: str, category: Category, data: dict[str, str], language: str
) -> None:
    registration = Registration.objects.filter(email_index=_index("details@example.org")).first()
    registration = registration or person(category, email="details@example.org")
    private = link(registration)
    was = (registration.name, registration.language)
    before = counts()
    response = post_form(
        browser, url("registration-manage", language, token=private), data, token=token
    )
    registration.refresh_from_db()
    assert changed(before) == {}
    if not check_answer(response, language=language):
        assert (registration.name, registration.language) == was
        return
    assert registration.name == validation.clean_name(data["name"])
    assert registration.language == data["language"]
    assert response["Location"].startswith(f"/{data['language']}/registration/{private}/")


@PROPERTIES
@given(data=hostile({"sure": st.just("on")}), language=LANGUAGES)
def test_cancel_form(
    browser: Client, token: str, category: Category, data: dict[str, str], language: str
) -> None:
    registration = person(category)
    private = link(registration)
    before = counts()
    response = post_form(
        browser, url("registration-cancel", language, token=private), data, token=token
    )
    registration.refresh_from_db()
    if not check_answer(response, language=language):
        assert registration.status == Status.PENDING and changed(before) == {}
        return
    assert registration.status == Status.CANCELLED
    assert changed(before) == {"emails": 1}  # "your registration is cancelled"


@PROPERTIES
@given(data=hostile({"sure": st.just("on")}), language=LANGUAGES)
def test_erase_form(
    browser: Client, token: str, category: Category, data: dict[str, str], language: str
) -> None:
    registration = person(category)
    private = link(registration)
    before = counts()
    response = post_form(
        browser, url("registration-erase", language, token=private), data, token=token
    )
    registration.refresh_from_db()
    if not check_answer(response, language=language, success={200}):
        assert registration.erased_at is None and registration.email is not None
        assert changed(before) == {}
        return
    assert registration.erased_at is not None and registration.status == Status.CANCELLED
    assert (registration.name, registration.email, registration.manage_token_hash) == (
        None,
        None,
        None,
    )
    assert changed(before) == {}


@PROPERTIES
@given(
    data=hostile(
        {
            "action": st.sampled_from(["add", "remove", "renew"]),
            "member": st.just("member"),
            **PERSON,
            **DELEGATION,
        }
    ),
    language=LANGUAGES,
    leads=st.booleans(),
)
def test_delegation_page_forms(
    browser: Client,
    token: str,
    delegation_category: Category,
    data: dict[str, str],
    language: str,
    leads: bool,
) -> None:
    if leads:
        delegation, _invitation = _delegation(delegation_category)
        leader = delegation.leader
        member = services.add_member(
            delegation=delegation,
            name="Member",
            email=f"member-{next(_numbers)}@example.org",
            language="en",
            country="DE",
        ).registration
        if data.get("member") == "member":
            data = {**data, "member": str(member.pk)}
    else:
        leader = person(delegation_category, leader=True)
    private = link(leader)
    before = counts()
    response = post_form(
        browser, url("delegation-manage", language, token=private), data, token=token
    )
    action = data.get("action", "")
    if leads and action == "remove" and response.status_code == 404:
        assert changed(before) == {}  # not a member of this delegation
        return
    success = check_answer(
        response,
        language=language,
        success={200, 302},
        form_names=("delegation_form", "add_form"),
    )
    delta = changed(before)
    if not success:
        assert delta == {}, "a refused change wrote something"
        return
    if not leads:
        assert delta == {"delegations": 1, "emails": 1}
        assert Delegation.objects.get(leader=leader).expected_size == int(data["expected_size"])
    elif action == "add":
        assert delta in ({"registrations": 1, "emails": 1}, {"emails": 1})
    elif action == "remove":
        member.refresh_from_db()
        assert member.status == Status.CANCELLED and delta == {"emails": 1}
    else:
        assert action == "renew" and delta == {"emails": 1}


def _delegation(category: Category) -> tuple[Delegation, str]:
    """A new delegation of ``category`` and its invitation token."""
    leader = person(category, leader=True)
    outcome = services.create_delegation(
        leader=leader, city="Berlin", country="DE", transport="coach", expected_size=20
    )
    return outcome.delegation, outcome.invitation_token


def _index(email: str) -> str | None:
    try:
        return blind_index(validation.clean_email(email), purpose="email")
    except ValidationError:  # not an address: nothing can have it
        return None
