"""Cache invalidation: any write to the program makes its cached pages and exports stale."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.dispatch import receiver

from gathering.core.cache import bump_version
from gathering.core.models import Organisation
from gathering.program.models import Edition, Room, Session, SessionSpeaker, Speaker, Track

PROGRAM_CACHE = "program"


@receiver(post_save, sender=Edition)
@receiver(post_save, sender=Room)
@receiver(post_save, sender=Track)
@receiver(post_save, sender=Session)
@receiver(post_save, sender=Speaker)
@receiver(post_save, sender=SessionSpeaker)
@receiver(post_save, sender=Organisation)
@receiver(post_delete, sender=Edition)
@receiver(post_delete, sender=Room)
@receiver(post_delete, sender=Track)
@receiver(post_delete, sender=Session)
@receiver(post_delete, sender=Speaker)
@receiver(post_delete, sender=SessionSpeaker)
@receiver(m2m_changed, sender=SessionSpeaker)
def program_changed(**_kwargs: Any) -> None:
    # Bump inside the writer's transaction: the new version becomes visible exactly when the
    # edit does, so no reader can cache the old page under the new version.
    with transaction.atomic():
        bump_version(PROGRAM_CACHE)
