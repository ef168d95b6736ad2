from __future__ import annotations

from django.contrib import admin
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _

from gathering.core.admin import GatheringModelAdmin, translated_text
from gathering.live.models import Announcement


@admin.register(Announcement)
class AnnouncementAdmin(GatheringModelAdmin):
    list_display = ("text_shown", "edition", "level", "published_at", "withdrawn_at")
    list_filter = ("edition", "level")
    readonly_fields = ("created_by",)
    translated_search_fields = ("text",)

    @admin.display(description=_("text"))
    def text_shown(self, announcement: Announcement) -> SafeString | str:
        return translated_text(announcement.text)
