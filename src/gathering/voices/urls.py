from django.urls import path

from gathering.voices import moderation_views, views

app_name = "voices"

urlpatterns = [
    path("<int:year>/voices/", views.CampaignListView.as_view(), name="campaign-list"),
    path(
        "<int:year>/voices/<slug:slug>/", views.CampaignDetailView.as_view(), name="campaign-detail"
    ),
    path("<int:year>/voices/<slug:slug>/sent/", views.SignSentView.as_view(), name="sign-sent"),
    path("<int:year>/voices/<slug:slug>/counts.json", views.CountsView.as_view(), name="counts"),
    path(
        "<int:year>/voices/<slug:slug>/counts.csv", views.CountsCsvView.as_view(), name="counts-csv"
    ),
    path(
        "<int:year>/voices/<slug:slug>/counts.pdf", views.CountsPdfView.as_view(), name="counts-pdf"
    ),
    path("<int:year>/voices/<slug:slug>/widget/", views.WidgetView.as_view(), name="widget"),
    path("<int:year>/voices/<slug:slug>/audit/", views.AuditView.as_view(), name="audit"),
    # Private pages: the token is the only key to them.
    path("voice/<str:token>/", views.SignatureManageView.as_view(), name="signature-manage"),
    path(
        "voice/<str:token>/confirm/", views.SignatureConfirmView.as_view(), name="signature-confirm"
    ),
    path("voice/<str:token>/receipt.json", views.ReceiptView.as_view(), name="receipt"),
    path(
        "voice/<str:token>/data.json", views.SignatureExportView.as_view(), name="signature-export"
    ),
    # Moderators.
    path(
        "staff/voices/<int:year>/<slug:slug>/",
        moderation_views.ModerationView.as_view(),
        name="moderation",
    ),
    path(
        "staff/voices/<int:year>/<slug:slug>/invalidate/",
        moderation_views.BulkInvalidationView.as_view(),
        name="bulk-invalidate",
    ),
    path(
        "staff/voices/<int:year>/<slug:slug>/signatories.<str:fmt>",
        moderation_views.SignatoriesExportView.as_view(),
        name="signatories-export",
    ),
]
