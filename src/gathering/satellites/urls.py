from django.urls import path

from gathering.satellites import views

app_name = "satellites"

urlpatterns = [
    path("<int:year>/sites/", views.SiteListView.as_view(), name="site-list"),
    path("<int:year>/sites/apply/", views.SiteApplyView.as_view(), name="site-apply"),
    path("<int:year>/sites/apply/sent/", views.SiteApplySentView.as_view(), name="site-apply-sent"),
    path("<int:year>/sites/<slug:slug>/", views.SiteDetailView.as_view(), name="site-detail"),
    # Coordinators and organisers.
    path("staff/sites/", views.SiteStaffListView.as_view(), name="site-staff-list"),
    path("staff/sites/<int:pk>/", views.SiteDashboardView.as_view(), name="site-dashboard"),
    # The approval email's private link: choose a password, then sign in.
    path(
        "staff/sites/welcome/<uidb64>/<token>/",
        views.SitePasswordSetView.as_view(),
        name="password-set",
    ),
    path(
        "staff/sites/welcome/done/",
        views.SitePasswordSetDoneView.as_view(),
        name="password-set-done",
    ),
]
