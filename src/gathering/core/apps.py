from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


class CoreConfig(AppConfig):
    name = "gathering.core"
    label = "core"
    verbose_name = _("Gathering")

    def ready(self) -> None:
        from gathering.core.roles import ensure_roles

        # Groups need the permissions that only exist once every app has migrated.
        post_migrate.connect(ensure_roles, dispatch_uid="gathering.core.ensure_roles")
