"""Hostile input for the property tests of the public forms (issue 6).

Strategies (hypothesis) for what a person, a script or an attacker may post, a poster that
sends it as a browser does (a form-encoded body with the page's CSRF token, through a client
that checks it), and the check every answer must pass: never a server error; a success, or the
page again with its form's errors in the language of the request's address.

Usage::

    client = Client(enforce_csrf_checks=True)
    token = csrf_token(client, page_path)
    response = post_form(client, path, data, token=token)
    check_answer(response, language="fa", success={302})
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from django.forms import Form
from django.test import Client
from django.utils import translation
from django.utils.html import escape
from hypothesis import HealthCheck, Phase, event, settings
from hypothesis import strategies as st

if TYPE_CHECKING:
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

__all__ = [
    "BOOLEAN",
    "HOSTILE",
    "LANGUAGES",
    "NUMBER",
    "SPOILT",
    "TEXT",
    "check_answer",
    "csrf_token",
    "field",
    "form_data",
    "form_errors",
    "post_form",
    "properties",
]


def properties(max_examples: int) -> settings:
    """Hypothesis settings of these tests: few examples (each is a request), no deadline (the
    machine may be busy), function-scoped fixtures allowed (the examples of a test share its
    database transaction: compare counts per example), and no "explain" phase (it re-runs a
    failing example hundreds of times to comment on it)."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.shrink],
    )


# Any Unicode code point a browser can send (str holds no encodable lone surrogate): controls,
# NUL, bidi overrides, zero-width characters, other scripts, astral planes.
TEXT = st.text(max_size=300)
# Shapes chosen by hand: markup and template syntax, formula injection, the controls a name must
# refuse and the joiners Persian needs, numbers and near-numbers, very long values.
HOSTILE = st.sampled_from(
    [
        "",
        " ",
        "\t\n",
        "\x00",
        "a\x00b",
        "\u202e",
        "abc\u202edef",
        "\u2067علی\u2069",
        "\u200b",
        "\u200c",
        "\ufeff",
        "\U0001f600",
        "<script>alert(1)</script>",
        "{{ 7|add:7 }}{% debug %}",
        "=cmd|' /C calc'!A0",
        "' OR 1=1 --",
        "%00",
        "../../etc/passwd",
        "null",
        "None",
        "علی رضایی",
        "Zoë Ågren",
        "0",
        "-1",
        "1e309",
        "NaN",
        "99999999999999999999999999",
        "۱۲",
        "a" * 5000,
        "ب" * 20000,
    ]
)
NUMBER = st.one_of(
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(str),
    st.sampled_from(["", " 12 ", "1.5", "2000", "2001", "1", "0", "١٢", "۱۲", "0x10", "1_000"]),
)
BOOLEAN = st.sampled_from(["on", "", "off", "false", "0", "1", "yes", "\x00"])
LANGUAGES = st.sampled_from(["en", "fa", "fr"])
# What a spoilt field holds.
SPOILT = st.one_of(TEXT, HOSTILE, NUMBER)


@st.composite
def form_data(
    draw: st.DrawFn,
    plausible: Mapping[str, st.SearchStrategy[str]],
    hostile: Mapping[str, st.SearchStrategy[str]] | None = None,
) -> dict[str, str]:
    """A form's fields: each from ``plausible`` unless spoilt (missing, or a value from
    ``hostile`` for that field, else any text, hostile shape or number). Examples spoil no
    field, one field, some or every field, so that valid posts reach the services as often as
    broken ones are refused."""
    names = list(plausible)
    how = draw(st.sampled_from(["none", "one", "some", "all"]))
    spoilt: set[str] = set()
    if how == "one" and names:
        spoilt = {draw(st.sampled_from(names))}
    elif how == "some":
        spoilt = draw(st.sets(st.sampled_from(names))) if names else set()
    elif how == "all":
        spoilt = set(names)
    data: dict[str, str] = {}
    for name in names:
        if name not in spoilt:
            data[name] = draw(plausible[name])
            continue
        value = draw(st.one_of(st.none(), (hostile or {}).get(name, SPOILT), SPOILT))
        if value is not None:  # None: the field is missing from the post
            data[name] = value
    return data


def field(*plausible: str) -> st.SearchStrategy[str]:
    """A hostile value for one field: arbitrary text, a hostile shape, or one of the
    ``plausible`` (near-miss) values given."""
    choices: list[st.SearchStrategy[str]] = [TEXT, HOSTILE]
    if plausible:
        choices.append(st.sampled_from(plausible))
    return st.one_of(*choices)


_CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


def csrf_token(client: Client, path: str) -> str:
    """The CSRF token of the form on the page at ``path`` (the client keeps the cookie)."""
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    match = _CSRF.search(response.content.decode())
    assert match, f"no CSRF token on {path}"
    return match.group(1)


def post_form(
    client: Client, path: str, data: Mapping[str, str], *, token: str, **headers: Any
) -> TestResponse:
    """Post ``data`` as a browser posts a form: an ``application/x-www-form-urlencoded`` body
    (NUL and every other character percent-encoded), with the CSRF token; ``headers`` go in
    the request's META (``HTTP_ACCEPT_LANGUAGE=…``, ``REMOTE_ADDR=…``)."""
    body = urllib.parse.urlencode({"csrfmiddlewaretoken": token, **data})
    return client.post(path, body, content_type="application/x-www-form-urlencoded", **headers)


def form_errors(form: Form, language: str) -> list[str]:
    """Every error message of ``form``, as it reads in ``language``."""
    messages: list[str] = []
    with translation.override(language):
        for errors in form.errors.as_data().values():
            for error in errors:
                messages.extend(str(message) for message in error)
    return messages


def check_answer(
    response: TestResponse,
    *,
    language: str,
    success: Iterable[int] = (302,),
    refusals: Iterable[int] = (400, 409),
    form_names: Iterable[str] = ("form",),
    extra_errors: Iterable[str] = ("error",),
) -> bool:
    """Assert that ``response`` is a success or the page again with its errors in
    ``language``; returns whether it was a success.

    A refusal must be a page in ``language`` (its ``lang`` and ``Content-Language``) that shows
    at least one error, each error of the forms named ``form_names`` in the context (and any
    message under ``extra_errors``) as it reads in ``language``."""
    status = response.status_code
    event(f"answered {status}")  # shown by --hypothesis-show-statistics
    assert status < 500, f"server error {status}"
    success, refusals = set(success), set(refusals)
    assert status in success | refusals, f"unexpected status {status}"
    if status in success:
        return True
    assert response["Content-Language"] == language, response["Content-Language"]
    content = response.content.decode()
    assert f'<html lang="{language}"' in content, "the page is not in the request's language"
    context: Any = response.context
    shown: list[str] = []
    for name in form_names:
        if context is not None and name in context and context[name] is not None:
            shown.extend(form_errors(context[name], language))
    shown.extend(
        str(context[name])
        for name in extra_errors
        if context is not None and name in context and context[name]
    )
    assert shown, f"refused ({status}) without an error to show"
    for message in shown:
        assert escape(message) in content, f"error not shown (in {language}): {message!r}"
    return False
