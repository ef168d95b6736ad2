from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """The audit trail: every staff action and every read of personal data (who, what, when,
    from where), append-only for the application, shown to organisers."""

    name = "gathering.audit"
    label = "audit"
    verbose_name = _("Audit trail")

    def ready(self) -> None:
        # Signals: the trail listens to the back office and to sign-ins without those
        # modules knowing about it.
        from gathering.audit import receivers  # noqa: F401
