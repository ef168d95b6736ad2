"""Posting announcements: bad input is refused with a clear message, nothing half-written."""

from __future__ import annotations

import pytest

from gathering.live import services
from gathering.live.errors import AnnouncementError
from gathering.live.models import Announcement
from gathering.program.tests.factories import EditionFactory

pytestmark = pytest.mark.django_db


def test_post_keeps_each_language() -> None:
    edition = EditionFactory()
    announcement = services.post_announcement(
        edition=edition, text={"en": "  Welcome  ", "fa": "خوش آمدید", "fr": "Bienvenue"}
    )
    assert dict(announcement.text) == {"en": "Welcome", "fa": "خوش آمدید", "fr": "Bienvenue"}


@pytest.mark.parametrize(
    "text",
    [{}, {"en": ""}, {"en": "   "}, {"en": "\u200b\u202e"}, {"fa": "\u2066\u2069"}],
)
def test_empty_text_is_refused(text: dict[str, str]) -> None:
    edition = EditionFactory()
    with pytest.raises(AnnouncementError):
        services.post_announcement(edition=edition, text=text)
    assert not Announcement.objects.exists()


def test_direction_overrides_and_controls_are_removed() -> None:
    edition = EditionFactory()
    announcement = services.post_announcement(
        edition=edition, text={"en": "Gate\u202e B\u0007 opens\u200b now"}
    )
    assert announcement.text["en"] == "Gate B opens now"


def test_too_long_unknown_language_and_level_are_refused() -> None:
    edition = EditionFactory()
    with pytest.raises(AnnouncementError):
        services.post_announcement(edition=edition, text={"en": "x" * 501})
    with pytest.raises(AnnouncementError):
        services.post_announcement(edition=edition, text={"en": "Hi"}, level="urgent<script>")
    with pytest.raises(Exception, match="Unknown language"):
        services.post_announcement(edition=edition, text={"xx": "Hi"})
    assert not Announcement.objects.exists()


def test_withdraw_twice_is_a_no_op() -> None:
    edition = EditionFactory()
    announcement = services.post_announcement(edition=edition, text={"en": "Hi"})
    first = services.withdraw_announcement(announcement=announcement)
    second = services.withdraw_announcement(announcement=announcement)
    assert first.withdrawn_at is not None
    assert second.withdrawn_at == first.withdrawn_at
