from django.urls import path

from gathering.audit import export_views
from gathering.audit.views import AuditEventExportView, AuditEventListView

app_name = "audit"

urlpatterns = [
    path("staff/audit/", AuditEventListView.as_view(), name="event-list"),
    path("staff/audit/export.csv", AuditEventExportView.as_view(), name="event-export"),
    # Bulk exports of personal data: asked for, approved by another organiser, downloaded.
    path("staff/exports/", export_views.ExportRequestListView.as_view(), name="export-list"),
    path("staff/exports/new/", export_views.ExportRequestCreateView.as_view(), name="export-new"),
    path(
        "staff/exports/<int:pk>/",
        export_views.ExportRequestDetailView.as_view(),
        name="export-detail",
    ),
    path(
        "staff/exports/<int:pk>/download/",
        export_views.ExportDownloadView.as_view(),
        name="export-download",
    ),
]
