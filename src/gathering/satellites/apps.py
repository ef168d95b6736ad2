from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class SatellitesConfig(AppConfig):
    # "sites" would clash with django.contrib.sites.
    name = "gathering.satellites"
    label = "satellites"
    verbose_name = _("Satellite sites")

    def ready(self) -> None:
        from gathering.outbox import kinds
        from gathering.satellites import emails

        kinds.register("satellites.approved", emails.build_approved)
        kinds.register("satellites.rejected", emails.build_rejected)
