from django.urls import path

from gathering.privacy import views

app_name = "privacy"

urlpatterns = [
    path("privacy/", views.PrivacyNoticeView.as_view(), name="notice"),
    path("legal/", views.LegalNoticeView.as_view(), name="legal-notice"),
    # Organisers: data-subject requests (look-up, export, erasure), all by post.
    path("staff/privacy/requests/", views.RequestSearchView.as_view(), name="request-search"),
    path(
        "staff/privacy/requests/export/",
        views.RequestExportView.as_view(),
        name="request-export",
    ),
    path("staff/privacy/requests/erase/", views.RequestEraseView.as_view(), name="request-erase"),
]
