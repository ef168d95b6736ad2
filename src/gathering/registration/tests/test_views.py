"""Public registration pages: forms without JavaScript, private links, hostile input."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import translation
from django.utils.timezone import now

from gathering.registration import selectors
from gathering.registration.models import Category, Delegation, Registration, Ticket
from gathering.registration.tests.factories import CategoryFactory, QuestionFactory, reload
from gathering.registration.tickets import qr_svg, ticket_code

pytestmark = pytest.mark.django_db

PERSIAN_DIGITS = frozenset("\u06f0\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7\u06f8\u06f9")

Status = Registration.Status


def url(name: str, language: str = "en", **kwargs) -> str:
    with translation.override(language):
        return reverse(f"registration:{name}", kwargs=kwargs)


def form_data(**overrides) -> dict[str, str]:
    data = {
        "name": "Zahra Rahimi",
        "email": "zahra@example.org",
        "language": "en",
        "country": "FR",
        "phone": "",
        "consent": "on",
    }
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def category() -> Category:
    return CategoryFactory(slug="attendee", capacity=10)


def register(client, committed, category: Category, page_language: str = "en", **overrides):
    with committed():
        return client.post(
            url(
                "registration-create",
                page_language,
                year=category.edition.year,
                slug=category.slug,
            ),
            form_data(**overrides),
        )


def registered_token(client, committed, smtp_sink, category, email="zahra@example.org", **kw):
    response = register(client, committed, category, email=email, **kw)
    assert response.status_code == 302, response.content.decode()[:2000]
    return smtp_sink.last_to(email).token()


def confirmed_token(client, committed, smtp_sink, category, **kw) -> str:
    token = registered_token(client, committed, smtp_sink, category, **kw)
    with committed():
        response = client.post(url("registration-confirm", token=token))
    assert response.status_code == 302
    return token


# --- category list and form ------------------------------------------------------------------


@pytest.mark.parametrize(("language", "direction"), [("en", "ltr"), ("fa", "rtl"), ("fr", "ltr")])
def test_category_list_in_each_language(client, category, language, direction) -> None:
    CategoryFactory(edition=category.edition, is_public=False, slug="hidden")
    response = client.get(url("category-list", language, year=category.edition.year))
    html = response.content.decode()
    assert response.status_code == 200
    assert f'dir="{direction}"' in html
    assert category.name[language] in html
    assert url("registration-create", language, year=category.edition.year, slug="attendee") in html
    assert "hidden" not in html


def test_unknown_edition_category_or_hidden_category_is_404(client, category) -> None:
    year = category.edition.year
    CategoryFactory(edition=category.edition, is_public=False, slug="invited")
    assert client.get(url("category-list", year=1999)).status_code == 404
    assert client.get(url("registration-create", year=year, slug="nope")).status_code == 404
    assert client.get(url("registration-create", year=year, slug="invited")).status_code == 404
    assert (
        client.post(url("registration-create", year=year, slug="invited"), form_data()).status_code
        == 404
    )


def test_form_shows_purpose_retention_and_questions_without_javascript(client, category) -> None:
    QuestionFactory(
        category=category,
        key="diet",
        kind="choice",
        required=True,
        choices=[
            {"value": "vegetarian", "label": {"en": "Vegetarian", "fa": "گیاهخوار"}},
            {"value": "none", "label": {"en": "No preference"}},
        ],
    )
    response = client.get(url("registration-create", year=category.edition.year, slug="attendee"))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<form method="post"' in html
    assert "<script" not in html
    assert "political opinions" in html  # purpose
    assert "30 days after the gathering ends" in html  # retention: the edition's
    assert 'name="consent"' in html
    assert 'name="q_diet"' in html and "Vegetarian" in html
    assert 'value="IR"' in html and ">Iran<" in html


def test_registering_redirects_to_check_your_email_and_sends_the_link(
    client, committed, smtp_sink, category
) -> None:
    response = register(client, committed, category, name="  Zahra   Rahimi ")

    assert response.status_code == 302
    assert response["Location"] == url("registration-sent", year=category.edition.year)
    registration = Registration.objects.get()
    assert registration.name == "Zahra Rahimi"
    assert registration.status == Status.PENDING
    assert smtp_sink.last_to("zahra@example.org").token()
    page = client.get(response["Location"])
    assert "Check your email" in page.content.decode()


def test_duplicate_registration_looks_the_same_and_writes_nothing(
    client, committed, smtp_sink, category
) -> None:
    first = register(client, committed, category)
    second = register(client, committed, category, email="  ZAHRA@Example.org ", name="Other")

    assert first.status_code == second.status_code == 302
    assert first["Location"] == second["Location"]
    assert Registration.objects.count() == 1
    # Still unconfirmed: the confirmation link again (a new one, the old one is replaced).
    [first_email, second_email] = smtp_sink.to("zahra@example.org")
    assert "/confirm/" in second_email.text
    assert first_email.token() != second_email.token()


HOSTILE = [
    pytest.param({"name": "<script>alert(1)</script>"}, "cannot contain &lt; or &gt;", id="script"),
    pytest.param({"name": "abc\u202edef"}, "change the direction of text", id="rtl-override"),
    pytest.param({"name": "x" * 10_000}, "at most 200 characters", id="10k-name"),
    pytest.param({"name": "a\x00b"}, "Null characters are not allowed", id="nul"),
    pytest.param({"name": ""}, "Enter your name", id="empty-name"),
    pytest.param({"name": "12345"}, "at least one letter", id="no-letter"),
    pytest.param({"email": "x" * 10_000 + "@example.org"}, "at most 254", id="10k-email"),
    pytest.param({"email": "not an email"}, "valid email", id="bad-email"),
    pytest.param({"email": "<script>@example.org"}, "valid email", id="script-email"),
    pytest.param({"consent": None}, "give your consent", id="no-consent"),
    pytest.param({"country": "XX"}, "Choose a country", id="bad-country"),
    pytest.param({"country": "x" * 10_000}, "Choose a country", id="10k-country"),
    pytest.param({"language": "de"}, "Choose one of the languages", id="bad-language"),
    pytest.param({"phone": "<b>123</b>"}, "phone number", id="bad-phone"),
    pytest.param({"phone": "1" * 10_000}, "at most 40", id="10k-phone"),
]


@pytest.mark.parametrize(("overrides", "message"), HOSTILE)
def test_hostile_or_malformed_input_gets_a_clear_error_and_writes_nothing(
    client, committed, smtp_sink, category, overrides, message
) -> None:
    response = register(client, committed, category, **overrides)

    html = response.content.decode()
    assert response.status_code == 400
    assert message in html
    assert 'role="alert"' in html
    assert "<script>alert(1)</script>" not in html
    assert not Registration.objects.exists()
    assert smtp_sink.messages == []


def test_errors_show_in_the_visitors_language(client, committed, category) -> None:
    response = register(client, committed, category, page_language="fa", email="not an email")
    html = response.content.decode()
    assert response.status_code == 400
    assert '<html lang="fa" dir="rtl">' in html
    assert "یک ایمیل آدرس معتبر وارد کنید" in html  # Django's own Persian message


def test_question_answers_are_validated(client, committed, category) -> None:
    QuestionFactory(
        category=category,
        key="diet",
        kind="choice",
        required=True,
        choices=[
            {"value": "vegetarian", "label": {"en": "Vegetarian"}},
        ],
    )
    QuestionFactory(category=category, key="first", kind="yes_no", required=True)
    QuestionFactory(category=category, key="note", kind="text")

    bad = register(client, committed, category, q_diet="pizza", q_first="maybe", q_note="a\u202eb")
    assert bad.status_code == 400
    html = bad.content.decode()
    assert "Choose one of the answers offered" in html
    assert "Please answer yes or no" in html
    assert "change the direction of text" in html
    assert not Registration.objects.exists()

    good = register(client, committed, category, q_diet="vegetarian", q_first="no", q_note="Hi")
    assert good.status_code == 302
    assert Registration.objects.get().answers == {
        "diet": "vegetarian",
        "first": False,
        "note": "Hi",
    }


def test_closed_category_shows_it_and_refuses_posts(client, committed, category) -> None:
    category.opens_at = now() - dt.timedelta(days=3)
    category.closes_at = now() - dt.timedelta(days=1)
    category.save()
    page = client.get(url("registration-create", year=category.edition.year, slug="attendee"))
    assert "not open" in page.content.decode()
    response = register(client, committed, category)
    assert response.status_code == 409
    assert "not open" in response.content.decode()
    assert not Registration.objects.exists()


def test_full_category_says_waiting_list(client, committed, smtp_sink, category) -> None:
    category.capacity = 1
    category.save()
    register(client, committed, category, email="first@example.org")
    page = client.get(url("registration-create", year=category.edition.year, slug="attendee"))
    assert "waiting list" in page.content.decode()
    register(client, committed, category, email="second@example.org")
    assert Registration.objects.get(status=Status.WAITLISTED)
    assert "waiting list" in smtp_sink.last_to("second@example.org").subject


# --- private link ----------------------------------------------------------------------------


def test_confirm_link_confirms_only_on_post(client, committed, smtp_sink, category) -> None:
    token = registered_token(client, committed, smtp_sink, category)

    page = client.get(url("registration-confirm", token=token))
    assert page.status_code == 200
    assert page["X-Robots-Tag"] == "noindex, nofollow"
    assert "no-store" in page["Cache-Control"] or "max-age=0" in page["Cache-Control"]
    assert reload(Registration.objects.get()).status == Status.PENDING

    with committed():
        response = client.post(url("registration-confirm", token=token))
    assert response.status_code == 302
    assert response["Location"] == url("registration-manage", token=token)
    assert Registration.objects.get().status == Status.CONFIRMED
    assert "ticket" in smtp_sink.last_to("zahra@example.org").subject


def test_manage_page_shows_what_we_hold(client, committed, smtp_sink, category) -> None:
    token = confirmed_token(
        client, committed, smtp_sink, category, country="IR", phone="+98 21 1234 5678"
    )
    html = client.get(url("registration-manage", token=token)).content.decode()
    assert "Zahra Rahimi" in html
    assert "zahra@example.org" in html
    assert "Iran" in html
    assert "+98 21 1234 5678" in html
    assert url("ticket-detail", token=token) in html
    assert url("registration-export", token=token) in html


@pytest.mark.parametrize(
    "name",
    [
        "registration-manage",
        "registration-confirm",
        "offer-accept",
        "registration-cancel",
        "registration-erase",
        "registration-export",
        "ticket-detail",
        "delegation-manage",
    ],
)
@pytest.mark.parametrize("token", ["A" * 43, "short", "x" * 5000, "%00", "..%2F..%2Fetc"])
def test_unknown_or_malformed_link_is_a_404_page(client, name, token) -> None:
    response = client.get(
        f"/en/registration/{token}/"
        + {
            "registration-manage": "",
            "registration-confirm": "confirm/",
            "offer-accept": "accept/",
            "registration-cancel": "cancel/",
            "registration-erase": "erase/",
            "registration-export": "data.json",
            "ticket-detail": "ticket/",
            "delegation-manage": "delegation/",
        }[name]
    )
    assert response.status_code == 404
    post = client.post(f"/en/registration/{token}/cancel/", {"sure": "on"})
    assert post.status_code == 404


def test_ticket_page_shows_qr_name_category_gate_and_window(
    client, committed, smtp_sink, category
) -> None:
    token = confirmed_token(
        client, committed, smtp_sink, category, name="زهرا رحیمی", language="fa"
    )
    ticket = Ticket.objects.get()

    response = client.get(url("ticket-detail", "fa", token=token))
    html = response.content.decode()
    assert response.status_code == 200
    assert '<html lang="fa" dir="rtl">' in html
    assert "زهرا رحیمی" in html
    assert category.name["fa"] in html
    assert category.gate["fa"] in html
    assert str(qr_svg(ticket_code(ticket), label="x")).split("<path", 1)[1] in html
    assert '<svg role="img"' in html
    assert any(character in PERSIAN_DIGITS for character in html)  # Persian digits in the window
    assert ticket.ticket_id.upper() in html


def test_ticket_pdf_is_downloadable_in_the_registrants_language(
    client, committed, smtp_sink, category
) -> None:
    import io

    from pypdf import PdfReader

    token = confirmed_token(
        client, committed, smtp_sink, category, name="زهرا رحیمی", language="fa"
    )
    html = client.get(url("ticket-detail", "fa", token=token)).content.decode()
    pdf_url = url("ticket-pdf", "fa", token=token)
    assert pdf_url in html
    response = client.get(pdf_url)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    text = PdfReader(io.BytesIO(response.content)).pages[0].extract_text()
    assert Ticket.objects.get().ticket_id.upper() in text
    assert "زهرا" in text or "اﺮﻫز" in text  # extraction may reverse or keep presentation forms


def test_ticket_pdf_needs_a_valid_ticket(client, committed, smtp_sink, category) -> None:
    token = registered_token(client, committed, smtp_sink, category)
    assert client.get(url("ticket-pdf", token=token)).status_code == 404
    assert client.get("/en/registration/" + "A" * 43 + "/ticket.pdf").status_code == 404


def test_ticket_page_before_confirmation_has_no_qr(client, committed, smtp_sink, category) -> None:
    token = registered_token(client, committed, smtp_sink, category)
    html = client.get(url("ticket-detail", token=token)).content.decode()
    assert "<svg" not in html
    assert "once your registration is confirmed" in html


def test_changing_name_and_language(client, committed, smtp_sink, category) -> None:
    token = confirmed_token(client, committed, smtp_sink, category)

    response = client.post(
        url("registration-manage", token=token), {"name": "Z. R.", "language": "fr"}
    )
    assert response.status_code == 302
    assert response["Location"] == url("registration-manage", "fr", token=token) + "?saved=1"
    registration = Registration.objects.get()
    assert (registration.name, registration.language) == ("Z. R.", "fr")

    bad = client.post(
        url("registration-manage", token=token), {"name": "<i>x</i>" * 5000, "language": "xx"}
    )
    assert bad.status_code == 400
    assert Registration.objects.get().name == "Z. R."


def test_cancelling_needs_the_tick_then_revokes_the_ticket(
    client, committed, smtp_sink, category
) -> None:
    token = confirmed_token(client, committed, smtp_sink, category)
    assert client.post(url("registration-cancel", token=token), {}).status_code == 400
    assert Registration.objects.get().status == Status.CONFIRMED

    with committed():
        response = client.post(url("registration-cancel", token=token), {"sure": "on"})
    assert response.status_code == 302
    assert Registration.objects.get().status == Status.CANCELLED
    assert Ticket.objects.get().revoked_at is not None
    html = client.get(url("ticket-detail", token=token)).content.decode()
    assert "<svg" not in html and "no longer opens the gate" in html
    # Cancelling again is harmless.
    assert client.post(url("registration-cancel", token=token), {"sure": "on"}).status_code == 302


def test_download_data_as_json(client, committed, smtp_sink, category) -> None:
    token = confirmed_token(client, committed, smtp_sink, category)
    response = client.get(url("registration-export", token=token))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert "attachment" in response["Content-Disposition"]
    data = json.loads(response.content)
    assert data["name"] == "Zahra Rahimi"
    assert data["email"] == "zahra@example.org"


def test_erase_removes_the_data_and_the_link(client, committed, smtp_sink, category) -> None:
    token = confirmed_token(client, committed, smtp_sink, category)
    assert client.post(url("registration-erase", token=token), {}).status_code == 400

    with committed():
        response = client.post(url("registration-erase", token=token), {"sure": "on"})
    assert response.status_code == 200
    assert "erased" in response.content.decode()
    registration = Registration.objects.get()
    assert registration.name is None and registration.email is None
    assert client.get(url("registration-manage", token=token)).status_code == 404


def test_lost_link_form_never_tells_whether_an_address_is_registered(
    client, committed, smtp_sink, category
) -> None:
    register(client, committed, category)
    smtp_sink.clear()
    year = category.edition.year
    with committed():
        known = client.post(url("link-resend", year=year), {"email": "ZAHRA@example.org"})
        unknown = client.post(url("link-resend", year=year), {"email": "nobody@example.org"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert [m.to for m in smtp_sink.messages] == [["zahra@example.org"]]
    bad = client.post(url("link-resend", year=year), {"email": "<script>"})
    assert bad.status_code == 400


def test_accepting_an_offered_place(client, committed, smtp_sink, category) -> None:
    category.capacity = 1
    category.save()
    holder = confirmed_token(client, committed, smtp_sink, category, email="holder@example.org")
    register(client, committed, category, email="next@example.org")
    with committed():
        client.post(url("registration-cancel", token=holder), {"sure": "on"})
    token = smtp_sink.last_to("next@example.org").token()

    page = client.get(url("offer-accept", token=token))
    assert page.status_code == 200 and "Accept the place" in page.content.decode()
    with committed():
        response = client.post(url("offer-accept", token=token))
    assert response.status_code == 302
    assert reload(Registration.objects.get(status=Status.CONFIRMED)).pk
    assert client.get(url("offer-accept", token=token)).status_code == 302


# --- delegations -----------------------------------------------------------------------------


@pytest.fixture
def delegation_category(category) -> Category:
    return CategoryFactory(
        edition=category.edition,
        kind=Category.Kind.DELEGATION_MEMBER,
        is_public=False,
        slug="delegation",
    )


def delegation_form(**overrides) -> dict[str, str]:
    data = form_data(email="leader@example.org", name="Leila Leader")
    data.update(
        {"city": "Berlin", "departure_country": "DE", "transport": "coach", "expected_size": "30"}
    )
    data.update(overrides)
    return {key: value for key, value in data.items() if value is not None}


def test_leader_registers_a_delegation_and_members_join_by_link(
    client, committed, smtp_sink, delegation_category
) -> None:
    year = delegation_category.edition.year
    assert client.get(url("delegation-create", year=year)).status_code == 200
    with committed():
        response = client.post(url("delegation-create", year=year), delegation_form())
    assert response.status_code == 302
    delegation = Delegation.objects.get()
    invitation = smtp_sink.last_to("leader@example.org").text
    join_path = invitation.split("https://gathering.test", 2)[-1].split()[0]
    assert join_path.startswith(f"/en/{year}/delegations/join/")

    page = client.get(join_path)
    assert page.status_code == 200 and "Berlin" in page.content.decode()
    with committed():
        joined = client.post(join_path, form_data(email="member@example.org", name="Member One"))
    assert joined.status_code == 302
    member = Registration.objects.get(
        delegation=delegation, name__isnull=False, pk__gt=delegation.leader_id
    )
    assert member.category_id == delegation_category.pk

    assert client.get(f"/en/{year}/delegations/join/{'B' * 43}/").status_code == 404
    assert client.get(f"/en/{year}/delegations/join/<script>/").status_code == 404


@pytest.mark.parametrize(
    "overrides",
    [
        {"city": "<b>x</b>"},
        {"city": "x" * 10_000},
        {"expected_size": "lots"},
        {"expected_size": "-1"},
        {"transport": "rocket"},
        {"departure_country": "ZZ"},
    ],
)
def test_bad_delegation_form_writes_nothing(client, committed, delegation_category, overrides):
    year = delegation_category.edition.year
    response = client.post(url("delegation-create", year=year), delegation_form(**overrides))
    assert response.status_code == 400
    assert not Registration.objects.exists()
    assert not Delegation.objects.exists()


def test_leader_page_adds_and_removes_members_and_renews_the_link(
    client, committed, smtp_sink, category, delegation_category
) -> None:
    token = confirmed_token(client, committed, smtp_sink, category, email="leader@example.org")
    page = url("delegation-manage", token=token)
    assert "Start the delegation" in client.get(page).content.decode()

    with committed():
        created = client.post(
            page,
            {
                "action": "create",
                "city": "Lyon",
                "departure_country": "FR",
                "transport": "train",
                "expected_size": "8",
            },
        )
    assert created.status_code == 200
    assert "/delegations/join/" in created.content.decode()
    delegation = Delegation.objects.get()

    with committed():
        added = client.post(
            page,
            {
                "action": "add",
                "name": "Added Person",
                "email": "added@example.org",
                "language": "fr",
                "country": "FR",
            },
        )
    assert added.status_code == 302
    member = Registration.objects.get(delegation=delegation, status=Status.PENDING)
    assert "/fr/registration/" in smtp_sink.last_to("added@example.org").text
    listing = client.get(page).content.decode()
    assert "Added Person" in listing

    assert client.post(page, {"action": "remove", "member": "abc"}).status_code == 404
    assert client.post(page, {"action": "remove", "member": str(10**30)}).status_code == 404
    with committed():
        removed = client.post(page, {"action": "remove", "member": str(member.pk)})
    assert removed.status_code == 302
    assert reload(member).status == Status.CANCELLED

    leader_removal = client.post(page, {"action": "remove", "member": str(delegation.leader_id)})
    assert leader_removal.status_code == 409
    assert reload(delegation.leader).status == Status.CONFIRMED

    with committed():
        renewed = client.post(page, {"action": "renew"})
    assert renewed.status_code == 200
    assert "/delegations/join/" in renewed.content.decode()
    assert client.post(page, {"action": "<script>"}).status_code == 400

    bad_add = client.post(page, {"action": "add", "name": "\u202e", "email": "x", "country": "??"})
    assert bad_add.status_code == 400
    assert Registration.objects.filter(delegation=delegation).count() == 2


def test_selectors_find_delegation_only_with_a_valid_token(committed, smtp_sink) -> None:
    with pytest.raises(Delegation.DoesNotExist):
        selectors.get_delegation_by_invitation(token="<script>")


def test_undecodable_or_oversized_posts_are_refused_without_a_500(client, category) -> None:
    target = url("registration-create", year=category.edition.year, slug="attendee")
    garbage = client.post(
        target,
        b"name=%FF%FE%00&email=%C0%AF@example.org&consent=on&country=FR&language=en",
        content_type="application/x-www-form-urlencoded",
    )
    assert garbage.status_code == 400
    many_fields = "&".join(f"f{i}=x" for i in range(2000))
    too_many = client.post(target, many_fields, content_type="application/x-www-form-urlencoded")
    assert too_many.status_code == 400
    json_body = client.post(target, '{"name": "x"}', content_type="application/json")
    assert json_body.status_code == 400
    assert not Registration.objects.exists()
