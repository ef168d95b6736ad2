"""Writes of the privacy app: the retention purge (``retention``) and encrypted backups
(``backups``)."""

from gathering.privacy.services.retention import PurgeReport, purge_expired

__all__ = ["PurgeReport", "purge_expired"]
