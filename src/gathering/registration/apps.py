from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class RegistrationConfig(AppConfig):
    name = "gathering.registration"
    label = "registration"
    verbose_name = _("Registration")

    def ready(self) -> None:
        # The worker renders registration emails with these builders (gathering.outbox).
        from gathering.registration import emails

        emails.register_kinds()
