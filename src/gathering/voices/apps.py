from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VoicesConfig(AppConfig):
    name = "gathering.voices"
    label = "voices"
    verbose_name = _("Add your voice")

    def ready(self) -> None:
        from gathering.outbox import kinds
        from gathering.voices import emails

        kinds.register("voices.confirm", emails.build_confirm)
        kinds.register("voices.already_signed", emails.build_already_signed)
