"""Duplicate registrations are found across rotations of the keyed-hash key."""

from __future__ import annotations

from pathlib import Path

import pytest

from gathering.core import crypto, key_management
from gathering.core.hmac_keys import LEGACY
from gathering.core.key_management import KeyInUseError
from gathering.registration import selectors
from gathering.registration.models import Registration
from gathering.registration.tests.factories import CategoryFactory, register_person, reload

pytestmark = pytest.mark.django_db


def test_a_registration_hashed_under_the_old_key_is_found_after_a_rotation(
    isolated_keys: Path,
) -> None:
    category = CategoryFactory()
    first = register_person(category, email="Maryam.K@example.org").registration
    old_index = reload(first).email_index
    assert crypto.blind_index_key_id(old_index) == LEGACY

    key_id = crypto.rotate_hmac_key()
    again = register_person(category, email="  maryam.k@EXAMPLE.org ")

    assert not again.created and again.registration.pk == first.pk
    assert Registration.objects.count() == 1
    found = selectors.find_active_registration(
        edition=category.edition, email="maryam.k@example.org"
    )
    assert found is not None and found.pk == first.pk
    newcomer = register_person(category).registration
    assert reload(newcomer).email_index.startswith(f"{key_id}:")


def test_reindex_moves_registrations_to_the_new_key_and_frees_the_old_one(
    isolated_keys: Path,
) -> None:
    category = CategoryFactory()
    people = [register_person(category).registration for _ in range(5)]
    key_id = crypto.rotate_hmac_key()
    with pytest.raises(KeyInUseError, match=r"registrations \(email\): 5"):
        key_management.retire_hmac_key(LEGACY)

    report = key_management.reindex_blind_indexes(batch_size=2)

    assert report.updated["registrations (email)"] == 5
    assert not report.conflicts and not report.unreadable
    for person in people:
        stored = reload(person)
        assert stored.email_index == crypto.blind_index(stored.email, purpose="email")
        assert stored.email_index.startswith(f"{key_id}:")
    # The duplicate check works on the re-hashed rows, and again is a no-op.
    assert not register_person(category, email=reload(people[0]).email).created
    assert key_management.reindex_blind_indexes().updated["registrations (email)"] == 0
    key_management.retire_hmac_key(LEGACY)
    assert not register_person(category, email=reload(people[1]).email.upper()).created


def test_reindex_leaves_a_duplicate_made_under_two_keys_and_says_so(isolated_keys: Path) -> None:
    category = CategoryFactory()
    first = register_person(category, email="twice@example.org").registration
    crypto.rotate_hmac_key()
    # A twin written under the new key without the look-up (a process that had not seen the
    # old key, for instance): both rows exist, under two keys.
    twin = register_person(category, email="other@example.org").registration
    Registration.objects.filter(pk=twin.pk).update(
        email=None, email_index=crypto.blind_index("twice@example.org", purpose="email")
    )

    report = key_management.reindex_blind_indexes()

    assert report.conflicts["registrations (email)"] == 1
    assert crypto.blind_index_key_id(reload(first).email_index) == LEGACY
