from django.urls import path

from gathering.audit.views import AuditEventExportView, AuditEventListView

app_name = "audit"

urlpatterns = [
    path("staff/audit/", AuditEventListView.as_view(), name="event-list"),
    path("staff/audit/export.csv", AuditEventExportView.as_view(), name="event-export"),
]
