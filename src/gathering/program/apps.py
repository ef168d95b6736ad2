from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProgramConfig(AppConfig):
    name = "gathering.program"
    label = "program"
    verbose_name = _("Program")

    def ready(self) -> None:
        from gathering.program import receivers  # noqa: F401  (cache invalidation)
