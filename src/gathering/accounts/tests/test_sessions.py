"""Disabling an account ends all of its sessions at once; so does an organiser's reset of its
second factors (which the account then sets up again)."""

from __future__ import annotations

from importlib import import_module
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client, override_settings

from gathering.accounts import services
from gathering.accounts.models import RecoveryCode, TotpDevice, UserSession, WebAuthnCredential
from gathering.accounts.tests.conftest import ENROL, LOGIN, VERIFY, make_staff, password_step
from gathering.audit.models import AuditEvent
from gathering.core.testing.staff import enrol_totp, sign_in_staff

pytestmark = pytest.mark.django_db


def _store() -> Any:
    return import_module(settings.SESSION_ENGINE).SessionStore


def _two_sessions(user: Any) -> tuple[Client, Client]:
    first, second = Client(), Client()
    sign_in_staff(first, user)
    sign_in_staff(second, user)
    for client in (first, second):
        assert client.get("/admin/").status_code == 200
    return first, second


def test_disabling_an_account_in_the_back_office_ends_its_sessions(
    staff: Any, django_user_model: Any
) -> None:
    target = make_staff(django_user_model, "leaving", role="program_editor")
    first, second = _two_sessions(target)
    keys = [first.session.session_key, second.session.session_key]
    assert set(UserSession.objects.filter(user=target).values_list("session_key", flat=True)) == (
        set(keys)
    )

    admin = Client()
    sign_in_staff(admin, staff)
    page = admin.get(f"/admin/auth/user/{target.pk}/change/")
    assert page.status_code == 200
    # The change form as the browser would send it, "active" unticked.
    data = {
        "username": "leaving",
        "first_name": "",
        "last_name": "",
        "email": "",
        "is_staff": "on",
        "groups": [group.pk for group in target.groups.all()],
        "date_joined_0": "2027-01-01",
        "date_joined_1": "10:00:00",
        "last_login_0": "",
        "last_login_1": "",
    }
    response = admin.post(f"/admin/auth/user/{target.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    target.refresh_from_db()
    assert not target.is_active

    for key in keys:
        assert not _store()().exists(key)
    assert not UserSession.objects.filter(user=target).exists()
    for client in (first, second):
        answer = client.get("/admin/")
        assert answer.status_code == 302
        assert answer["Location"].startswith("/admin/login/")
        assert client.get(answer["Location"])["Location"].startswith(LOGIN)
    event = AuditEvent.objects.get(action="account.sessions_ended")
    assert event.actor == staff and event.object_id == str(target.pk)
    assert event.summary == "sessions=2; reason=disabled"
    # The organiser's own session is untouched.
    assert admin.get("/admin/").status_code == 200


def test_any_save_that_disables_ends_the_sessions(staff: Any) -> None:
    first, second = _two_sessions(staff)
    staff.is_active = False
    staff.save(update_fields=["is_active"])
    for client in (first, second):
        assert client.get("/en/staff/audit/").status_code == 302
    assert UserSession.objects.count() == 0


@override_settings(SESSION_ENGINE="django.contrib.sessions.backends.cache")
def test_it_works_with_another_session_engine(staff: Any) -> None:
    first, second = _two_sessions(staff)
    keys = [first.session.session_key, second.session.session_key]
    assert all(_store()().exists(key) for key in keys)
    staff.is_active = False
    staff.save()
    assert not any(_store()().exists(key) for key in keys)


def test_deleting_an_account_ends_its_sessions(staff: Any) -> None:
    first, _second = _two_sessions(staff)
    key = first.session.session_key
    staff.delete()
    assert not _store()().exists(key)


def test_saving_an_active_account_ends_nothing(staff: Any) -> None:
    first, _second = _two_sessions(staff)
    staff.first_name = "Renamed"
    staff.save()
    assert first.get("/admin/").status_code == 200


def test_signing_out_forgets_the_session(client: Client, staff: Any) -> None:
    sign_in_staff(client, staff)
    assert UserSession.objects.count() == 1
    client.post("/staff/logout/")
    assert UserSession.objects.count() == 0


# --- organisers reset another account's second factors -------------------------------------


def test_an_organiser_resets_another_staff_members_second_factors(
    staff: Any, django_user_model: Any
) -> None:
    target = make_staff(django_user_model, "lost-phone", role="gate")
    secret = enrol_totp(target)
    services.regenerate_recovery_codes(None, user=target)  # type: ignore[arg-type]
    WebAuthnCredential.objects.create(
        user=target, name="blue", credential_id="abc", public_key=b"k"
    )
    victim_session = Client()
    sign_in_staff(victim_session, target)

    organiser = Client()
    sign_in_staff(organiser, staff)
    listing = organiser.get("/staff/security/staff/")
    assert listing.status_code == 200
    assert "lost-phone" in listing.content.decode()
    confirm = organiser.get(f"/staff/security/staff/{target.pk}/reset/")
    assert confirm.status_code == 200
    response = organiser.post(f"/staff/security/staff/{target.pk}/reset/")
    assert response.status_code == 302
    assert "is reset" in organiser.get(response["Location"]).content.decode()

    assert not TotpDevice.objects.filter(user=target).exists()
    assert not WebAuthnCredential.objects.filter(user=target).exists()
    assert not RecoveryCode.objects.filter(user=target).exists()
    assert victim_session.get("/admin/").status_code == 302
    reset = AuditEvent.objects.get(action="second_factor.reset")
    assert reset.actor == staff and reset.object_id == str(target.pk)
    assert reset.summary == "totp=1; keys=1; codes=10"
    assert AuditEvent.objects.filter(action="account.sessions_ended").count() == 1

    # At the next sign-in: the password, then a new authenticator.
    client = Client()
    password_step(client, "lost-phone")
    assert client.get(VERIFY)["Location"].startswith(ENROL)
    assert secret not in client.get(ENROL).content.decode().replace(" ", "")


@pytest.mark.parametrize("role", ["program_editor", "gate", "moderator", "site_coordinator"])
def test_other_roles_cannot_reset_anyone(staff: Any, django_user_model: Any, role: str) -> None:
    client = Client()
    sign_in_staff(client, make_staff(django_user_model, f"{role}-x", role=role))
    assert client.get("/staff/security/staff/").status_code == 403
    assert client.post(f"/staff/security/staff/{staff.pk}/reset/").status_code == 403
    assert TotpDevice.objects.filter(user=staff).count() == 0  # (nothing was there to reset)
    assert not AuditEvent.objects.filter(action="second_factor.reset").exists()


def test_an_organiser_cannot_reset_themselves_nor_non_staff(
    staff: Any, secret: str, django_user_model: Any
) -> None:
    client = Client()
    sign_in_staff(client, staff)
    response = client.post(f"/staff/security/staff/{staff.pk}/reset/")
    assert response.status_code == 302
    assert "cannot reset" in client.get(response["Location"]).content.decode()
    assert TotpDevice.objects.filter(user=staff).exists()
    visitor = django_user_model.objects.create_user("visitor")
    assert client.post(f"/staff/security/staff/{visitor.pk}/reset/").status_code == 404
    assert client.post("/staff/security/staff/99999999999999999999/reset/").status_code == 404


def test_the_reset_needs_a_recent_second_factor(staff: Any, django_user_model: Any) -> None:
    from freezegun import freeze_time

    target = make_staff(django_user_model, "target", role="gate")
    enrol_totp(target)
    with freeze_time("2027-06-27 10:00:00") as frozen:
        client = Client()
        sign_in_staff(client, staff)
        frozen.tick(11 * 60)
        response = client.post(f"/staff/security/staff/{target.pk}/reset/")
        assert response.status_code == 302 and response["Location"].startswith(VERIFY)
    assert TotpDevice.objects.filter(user=target).exists()


def test_the_command_line_resets_an_account(staff: Any, secret: str) -> None:
    import io

    out = io.StringIO()
    call_command("reset_second_factors", "staffer", stdout=out)
    assert "staffer" in out.getvalue()
    assert not TotpDevice.objects.filter(user=staff).exists()
    event = AuditEvent.objects.get(action="second_factor.reset")
    assert event.actor is None and event.actor_username == "(command line)"


def test_a_session_whose_key_changed_is_still_ended(client: Client, staff: Any) -> None:
    """A password change gives the session a new key (Django cycles it): the new key is
    recorded at the next request, so disabling the account still ends that session."""
    from gathering.accounts.tests.conftest import PASSWORD

    sign_in_staff(client, staff)
    before = client.session.session_key
    new_password = "a-brand-new-password-2028"
    response = client.post(
        "/admin/password_change/",
        {"old_password": PASSWORD, "new_password1": new_password, "new_password2": new_password},
    )
    assert response.status_code == 302
    after = client.session.session_key
    assert after != before
    assert client.get("/admin/").status_code == 200
    assert list(UserSession.objects.values_list("session_key", flat=True)) == [after]
    staff.refresh_from_db()
    staff.is_active = False
    staff.save()
    assert not _store()().exists(after)
