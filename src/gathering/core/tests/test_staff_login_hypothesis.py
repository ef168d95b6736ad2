"""Property test of the staff sign-in form (issue 6): the one form of the staff pages that
anyone can post. Whatever is posted, in whichever language the browser asks for, the answer is
the next step of signing in or the form again with its error in that language; never a server
error, never a session for a wrong password, never a redirection off the site, and no account
written.
"""

from __future__ import annotations

import urllib.parse
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from gathering.core.testing.hostile import (
    LANGUAGES,
    TEXT,
    check_answer,
    csrf_token,
    field,
    form_data,
    post_form,
    properties,
)

pytestmark = pytest.mark.django_db

USERNAME = "desk-officer"
PASSWORD = "correct-horse-battery-2041"


@pytest.fixture
def staff(settings: Any) -> User:
    # The default hasher takes a good part of a second on purpose: too slow for many examples.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    return User.objects.create_user(USERNAME, password=PASSWORD, is_staff=True)


SIGN_IN = {
    "username": st.sampled_from([USERNAME, USERNAME.upper(), " desk-officer", "nobody"]),
    "password": st.sampled_from([PASSWORD, PASSWORD + " ", "wrong"]),
    "next": st.sampled_from(["", "/admin/", "/en/staff/sites/"]),
}
HOSTILE = {
    "next": field(
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "javascript:alert(1)",
        "https:/evil.example",
    ),
}


@properties(30)
@given(
    data=form_data(SIGN_IN, HOSTILE),
    language=LANGUAGES,
    address=st.ip_addresses(v=4).map(str),
    extra=TEXT,
)
def test_staff_sign_in_form(
    staff: User, data: dict[str, str], language: str, address: str, extra: str
) -> None:
    browser = Client(enforce_csrf_checks=True, headers={"accept-language": language})
    token = csrf_token(browser, "/staff/login/")
    users = User.objects.count()
    response = post_form(
        browser,
        "/staff/login/",
        {**data, "extra": extra},
        token=token,
        HTTP_ACCEPT_LANGUAGE=language,
        REMOTE_ADDR=address,
    )
    assert User.objects.count() == users
    if not check_answer(response, language=language, refusals={200}):
        assert "_auth_user_id" not in browser.session, "signed in by a refused form"
        return
    # Only the right password signs in (the name as stored, give or take the spaces around it,
    # which Django's form strips).
    assert data.get("password") == PASSWORD and data.get("username", "").strip() == USERNAME
    assert browser.session["_auth_user_id"] == str(staff.pk)
    location = urllib.parse.urlsplit(response["Location"])
    assert not location.scheme and not location.netloc, response["Location"]
    assert location.path.startswith("/")
