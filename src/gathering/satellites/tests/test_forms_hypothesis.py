"""Property tests of the public forms of satellite sites (issue 6): a coordinator's application,
and the password a new coordinator chooses through the approval email's private link.

Whatever is posted, the answer is a success or the form again with its errors in the language
of the address, never a server error, and nothing half-written: an application records one site
or none, a refused password leaves the account without one.
"""

from __future__ import annotations

import itertools
import urllib.parse
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.contrib.auth.tokens import default_token_generator
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
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
from gathering.program.models import Edition
from gathering.satellites import validation
from gathering.satellites.consent import VERSION
from gathering.satellites.models import Site
from gathering.satellites.tests.factories import live_edition

pytestmark = pytest.mark.django_db

PROPERTIES = properties(30)
_numbers = itertools.count(1)

NAME = st.one_of(
    st.sampled_from(["", "Berlin community hall", "سالن اجتماعات", "Salle Zoë"]),
    st.text(st.characters(categories=("L", "M", "N", "Zs")), max_size=80),
)
CITY = st.one_of(
    st.sampled_from(["Stockholm", "برلین", "Saint-Étienne", "stockholm ", "Zürich"]),
    st.text(st.characters(categories=("L", "M", "Zs")), min_size=1, max_size=60),
)
APPLICATION = {
    "name": NAME,
    "city": CITY,
    "country": st.sampled_from(["SE", "DE", "IR", "FR"]),
    "is_online": st.sampled_from(["", "on"]),
    "venue": st.sampled_from(["Folkets hus", "خانه فرهنگ", "Salle 3, rue de la Paix"]),
    "expected_attendance": st.integers(1, 1_000_000).map(str),
    "timezone": st.sampled_from(["Europe/Stockholm", "Asia/Tehran", "America/Los_Angeles"]),
    "contact_name": st.sampled_from(["Parvaneh", "Anna Svensson", "آنا"]),
    "contact_email": st.one_of(
        st.builds("coordinator{}@example.org".format, st.integers(0, 10**9)),
        st.just("same@example.org"),
    ),
    "language": st.sampled_from(["en", "fa", "fr"]),
    "consent": st.just("on"),
    "consent_version": st.just(VERSION),
}
HOSTILE = {
    "is_online": BOOLEAN,
    "consent": BOOLEAN,
    "expected_attendance": NUMBER,
    "timezone": field("Nowhere/Else", "europe/stockholm", "UTC", "Etc/GMT+3", "localtime"),
    "country": field("ZZ", "XX", "SWE", "se", " SE "),
    "venue": field(""),
    "language": field("de", "EN"),
}


@pytest.fixture
def browser() -> Client:
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def edition() -> Edition:
    return live_edition(year=2090)


@pytest.fixture
def token(browser: Client, edition: Edition) -> str:
    return csrf_token(browser, f"/en/{edition.year}/sites/apply/")


@pytest.fixture
def fast_hashing(settings: Any) -> None:
    # The default hasher takes a good part of a second on purpose: too slow for many examples.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def counts() -> tuple[int, int, int]:
    return Site.objects.count(), OutboxEmail.objects.count(), User.objects.count()


@PROPERTIES
@given(data=form_data(APPLICATION, HOSTILE), language=LANGUAGES)
def test_site_application_form(
    browser: Client, token: str, edition: Edition, data: dict[str, str], language: str
) -> None:
    before = counts()
    response = post_form(browser, f"/{language}/{edition.year}/sites/apply/", data, token=token)
    sites, emails, users = counts()
    if not check_answer(response, language=language):
        assert (sites, emails, users) == before, "a refused application wrote something"
        return
    assert response["Location"] == f"/{language}/{edition.year}/sites/apply/sent/"
    # One new pending site, or (the same contact and city again) the first one, unchanged.
    assert sites in {before[0], before[0] + 1} and users == before[2]
    site = Site.objects.get(
        edition=edition,
        contact_email_index=blind_index(
            validation.clean_email(data["contact_email"]), purpose="email"
        ),
        city__iexact=validation.clean_city(data["city"]),
    )
    assert site.status == Site.Status.PENDING and site.slug
    assert site.city == validation.clean_city(site.city)


PASSWORDS = {
    "new_password1": st.one_of(
        st.just("a-new-coordinator-password-2041"),
        st.text(st.characters(categories=("L", "N", "P")), min_size=12, max_size=40),
    ),
}


@PROPERTIES
@given(
    data=form_data(PASSWORDS | {"new_password2": st.just("same")}),
    language=LANGUAGES,
    link=st.sampled_from(["real", "real", "real", "token", "user"]),
    junk=TEXT,
)
def test_password_set_form(
    browser: Client,
    fast_hashing: None,
    data: dict[str, str],
    language: str,
    link: str,
    junk: str,
) -> None:
    if data.get("new_password2") == "same":
        data = {**data, "new_password2": data.get("new_password1", "")}
    user = User.objects.create_user(f"site-coordinator-{next(_numbers)}", is_staff=True)
    assert not user.has_usable_password()
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    secret = default_token_generator.make_token(user)
    if link == "token":
        secret = urllib.parse.quote(junk or "x", safe="")
    elif link == "user":
        uid = urllib.parse.quote(junk or "x", safe="")
    # As the email's link does: the first page keeps the token in the session and redirects.
    opened = browser.get(f"/{language}/staff/sites/welcome/{uid}/{secret}/", follow=True)
    if link != "real":
        # Junk that the URL's converters refuse (a "/" in it) is a plain 404; the rest reaches
        # Django's view, which calls the link invalid.
        assert opened.status_code in {200, 404}
        if opened.status_code == 200:
            assert not opened.context["validlink"]
        user.refresh_from_db()
        assert not user.has_usable_password()
        return
    assert opened.status_code == 200
    form_path = opened.redirect_chain[-1][0]
    response = post_form(browser, form_path, data, token=csrf_token(browser, form_path))
    user.refresh_from_db()
    # Django's view shows the form again with a 200.
    if not check_answer(response, language=language, refusals={200}):
        assert not user.has_usable_password()
        return
    assert response["Location"] == "/" + language + "/staff/sites/welcome/done/"
    assert user.check_password(data["new_password1"])
