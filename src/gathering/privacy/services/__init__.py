"""Writes of the privacy app: the retention purge (``retention``), encrypted backups
(``backups``) and the data-subject requests that staff handle (``requests``)."""

from gathering.privacy.services.retention import PurgeReport, purge_expired

__all__ = ["PurgeReport", "purge_expired"]
