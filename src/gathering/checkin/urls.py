from django.urls import path

from gathering.checkin import views

app_name = "checkin"

urlpatterns = [
    # The worker's address sets its scope: it must live under /staff/scanner/.
    path("staff/scanner/sw.js", views.ServiceWorkerView.as_view(), name="service-worker"),
    path("staff/scanner/<int:year>/", views.ScannerGateListView.as_view(), name="gate-list"),
    path("staff/scanner/<int:year>/<slug:slug>/", views.ScannerView.as_view(), name="scanner"),
]
