"""Every purpose that the public consents to, with its texts, versions and real periods.

One entry per collection point's texts (each app's ``consent.py`` holds the words and their
``HISTORY``): the privacy notice shows each purpose's current version and texts, and the tests
compare each text with the fingerprint of its current version. ``render`` gives the texts as a
form of ``edition`` shows them (its retention period, and the windows the services apply), so
the notice and the forms cannot disagree.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from gathering.privacy.consent_versions import ConsentVersion
from gathering.program.models import Edition
from gathering.registration import consent as registration_consent
from gathering.satellites import consent as satellites_consent
from gathering.voices import consent as voices_consent
from gathering.voices import services as voices_services

# The periods the fingerprints of the texts are computed with (``text_hash``): any fixed
# numbers would do, these are the defaults.
SAMPLE_RETENTION_DAYS = 30


@dataclass(frozen=True)
class Purpose:
    key: str
    title: str | Promise
    history: tuple[ConsentVersion, ...]
    # (language, retention days of the edition) -> the app's ConsentText
    texts: Callable[[str | None, int], Any]

    @property
    def version(self) -> str:
        return self.history[-1].version

    def render(self, language: str | None = None, *, edition: Edition | None = None) -> Any:
        """The texts as the forms of ``edition`` show them (without an edition: the
        default retention period of a new one)."""
        days = edition.retention_days if edition is not None else default_retention_days()
        return self.texts(language, days)

    def sample(self, language: str = "en") -> Any:
        """The texts with :data:`SAMPLE_RETENTION_DAYS`, for their fingerprint."""
        return self.texts(language, SAMPLE_RETENTION_DAYS)


def default_retention_days() -> int:
    default = Edition._meta.get_field("retention_days").default
    return int(default) if isinstance(default, int) else SAMPLE_RETENTION_DAYS


def _registration(language: str | None, days: int) -> Any:
    return registration_consent.consent_text(language, retention_days=days)


def _voices(language: str | None, days: int) -> Any:
    return voices_consent.consent_text(
        language,
        retention_days=days,
        abuse_days=voices_services.ABUSE_WINDOW.days,
        confirm_days=voices_services.CONFIRMATION_WINDOW.days,
    )


def _satellites(language: str | None, days: int) -> Any:
    return satellites_consent.consent_text(
        language, retention_days=satellites_consent.retention_days(days)
    )


PURPOSES: tuple[Purpose, ...] = (
    Purpose(
        key="registration",
        title=_("Registering to attend (individuals, delegation leaders and members)"),
        history=registration_consent.HISTORY,
        texts=_registration,
    ),
    Purpose(
        key="voices",
        title=_("Signing a campaign (and asking for its news)"),
        history=voices_consent.HISTORY,
        texts=_voices,
    ),
    Purpose(
        key="satellites",
        title=_("Applying to host a satellite site"),
        history=satellites_consent.HISTORY,
        texts=_satellites,
    ),
)


def get_purpose(key: str) -> Purpose:
    """Raises KeyError for an unknown purpose."""
    for purpose in PURPOSES:
        if purpose.key == key:
            return purpose
    raise KeyError(key)
