from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class PrivacyConfig(AppConfig):
    """Consent, retention and erasure: the versions of the consent texts, the privacy and legal
    notices, the purge of personal data once an edition's retention period is over, staff's
    handling of data-subject requests (export and erasure by email address), and encrypted
    backups (which hold personal data too)."""

    name = "gathering.privacy"
    label = "privacy"
    verbose_name = _("Privacy")
