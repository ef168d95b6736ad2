from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """Consent, retention and erasure: the purge of personal data once an edition's retention
    period is over, and encrypted backups (which hold personal data too)."""

    name = "gathering.privacy"
    label = "privacy"
    verbose_name = _("Privacy")
