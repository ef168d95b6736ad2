from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoicesConfig(AppConfig):
    name = "gathering.voices"
    label = "voices"
    verbose_name = _("Add your voice")
