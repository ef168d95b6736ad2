from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AbuseConfig(AppConfig):
    name = "gathering.abuse"
    label = "abuse"
    verbose_name = _("Abuse protection")

    def ready(self) -> None:
        from gathering.abuse import checks  # noqa: F401  (registers the system checks)
