from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from gathering.core.roles import ROLE_PERMISSIONS, ensure_roles
from gathering.core.testing.staff import (
    enrol_totp,
    pass_second_factor,
    second_factor_step,
    sign_in_staff,
)

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-staff-password-2027"
LOGIN_URL = "/staff/login/"


def expected_permissions(role: str) -> set[tuple[str, str]]:
    return {
        (model_key.split(".")[0], f"{action}_{model_key.split('.')[1]}")
        for model_key, actions in ROLE_PERMISSIONS[role].items()
        for action in actions
    }


def granted_permissions(group: Group) -> set[tuple[str, str]]:
    return set(group.permissions.values_list("content_type__app_label", "codename"))


@pytest.mark.parametrize("role", [name for name, _description in settings.GATHERING_STAFF_ROLES])
def test_migrate_creates_each_role_with_exactly_its_permissions(role: str) -> None:
    group = Group.objects.get(name=role)

    assert granted_permissions(group) == expected_permissions(role)


def test_staff_roles_are_organiser_and_program_editor() -> None:
    roles = {name for name, _description in settings.GATHERING_STAFF_ROLES}

    assert {"organiser", "program_editor"} <= roles
    assert roles <= set(ROLE_PERMISSIONS)


def test_every_listed_permission_exists() -> None:
    # ensure_roles skips unknown permissions (an app may be absent); a typo must not hide here.
    for role in ROLE_PERMISSIONS:
        for app_label, codename in expected_permissions(role):
            assert Permission.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).exists(), (role, app_label, codename)


def test_program_editor_cannot_touch_the_organisation_or_users() -> None:
    granted = granted_permissions(Group.objects.get(name="program_editor"))

    assert not {app for app, _codename in granted} & {"core", "auth"}


def test_ensure_roles_removes_permissions_granted_by_hand_and_restores_missing_ones() -> None:
    group = Group.objects.get(name="program_editor")
    group.permissions.add(
        Permission.objects.get(content_type__app_label="auth", codename="delete_user")
    )
    group.permissions.remove(
        Permission.objects.get(content_type__app_label="program", codename="change_session")
    )

    ensure_roles()
    ensure_roles()

    assert granted_permissions(group) == expected_permissions("program_editor")
    assert Group.objects.filter(name="program_editor").count() == 1


# The staff sign-in page.


@pytest.fixture
def staff(django_user_model):
    user = django_user_model.objects.create_user("staffer", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name="program_editor"))
    return user


def signed_in_user_id(client) -> str | None:
    return client.session.get("_auth_user_id")


def test_sign_in_page_renders(client) -> None:
    response = client.get(LOGIN_URL)

    assert response.status_code == 200
    html = response.content.decode()
    assert 'name="username"' in html
    assert 'name="password"' in html


def test_staff_signs_in_and_lands_in_the_admin(client, staff) -> None:
    secret = enrol_totp(staff)
    response = client.post(LOGIN_URL, {"username": "staffer", "password": PASSWORD})

    # The password, then the second factor (accounts app), then the admin.
    assert response.status_code == 302
    assert response["Location"] == second_factor_step(reverse("admin:index"))
    assert signed_in_user_id(client) == str(staff.pk)
    done = pass_second_factor(client, secret, destination=reverse("admin:index"))
    assert done["Location"] == reverse("admin:index")
    assert client.get(reverse("admin:index")).status_code == 200


def test_sign_in_returns_to_the_page_asked_for(client, staff) -> None:
    target = reverse("admin:program_session_changelist")

    response = client.post(
        f"{LOGIN_URL}?next={target}", {"username": "staffer", "password": PASSWORD, "next": target}
    )

    assert response.status_code == 302
    assert response["Location"] == second_factor_step(target)


def test_sign_in_never_redirects_off_site(client, staff) -> None:
    response = client.post(
        LOGIN_URL,
        {"username": "staffer", "password": PASSWORD, "next": "https://evil.example/steal"},
    )

    assert response.status_code == 302
    assert response["Location"] == second_factor_step(reverse("admin:index"))


def test_wrong_password_is_refused_with_a_clear_error(client, staff) -> None:
    response = client.post(LOGIN_URL, {"username": "staffer", "password": "wrong-password"})

    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert signed_in_user_id(client) is None


def test_account_without_staff_status_cannot_sign_in(client, django_user_model) -> None:
    django_user_model.objects.create_user("visitor", password=PASSWORD)

    response = client.post(LOGIN_URL, {"username": "visitor", "password": PASSWORD})

    assert response.status_code == 200
    assert "correct username and password" in response.content.decode()
    assert signed_in_user_id(client) is None


@pytest.mark.parametrize(
    "data",
    [
        {},
        {"username": "", "password": ""},
        {"username": "<script>alert(1)</script>", "password": "x"},
        {"username": "\u202estaffer", "password": PASSWORD},
        {"username": "s" * 10_000, "password": "p" * 10_000},
        {"username": "staffer", "password": PASSWORD, "next": "javascript:alert(1)"},
    ],
)
def test_malformed_sign_in_gives_errors_not_failures(client, staff, data) -> None:
    response = client.post(LOGIN_URL, data)

    if response.status_code == 302:  # the last case is a correct sign-in with a bad "next"
        assert response["Location"] == second_factor_step(reverse("admin:index"))
        return
    assert response.status_code == 200
    assert "<script>alert(1)</script>" not in response.content.decode()
    assert signed_in_user_id(client) is None


def test_admin_login_redirects_to_the_staff_sign_in_page(client) -> None:
    response = client.get("/admin/login/?next=/admin/program/")

    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next=/admin/program/"


def test_signed_in_staff_visiting_the_sign_in_page_goes_to_the_admin(client, staff) -> None:
    sign_in_staff(client, staff)

    response = client.get(LOGIN_URL)

    assert response.status_code == 302
    assert response["Location"] == reverse("admin:index")


def test_anonymous_visitor_is_sent_to_sign_in(client) -> None:
    response = client.get("/admin/", follow=True)

    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith(LOGIN_URL)


def test_non_staff_account_cannot_get_into_the_admin(client, django_user_model) -> None:
    visitor = django_user_model.objects.create_user("visitor", password=PASSWORD)
    client.force_login(visitor)

    response = client.get("/admin/", follow=True)

    # Sent to the sign-in form, which it sees (no redirect loop back into the admin).
    assert response.status_code == 200
    assert response.redirect_chain[-1][0].startswith(LOGIN_URL)
    assert len(response.redirect_chain) == 2
    assert 'name="password"' in response.content.decode()


def test_site_coordinator_lands_on_their_sites(client, django_user_model) -> None:
    coordinator = django_user_model.objects.create_user(
        "coordinator", password=PASSWORD, is_staff=True
    )
    coordinator.groups.add(Group.objects.get(name="site_coordinator"))
    secret = enrol_totp(coordinator)

    response = client.post(LOGIN_URL, {"username": "coordinator", "password": PASSWORD})

    assert response.status_code == 302
    sites = reverse("satellites:site-staff-list")
    assert response["Location"] == second_factor_step(sites)
    assert pass_second_factor(client, secret, destination=sites)["Location"] == sites
    assert client.get(sites).status_code == 200
