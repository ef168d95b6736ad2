from django.urls import path

from gathering.accounts import views

app_name = "accounts"

# Not under a language prefix, as the password step (/staff/login/): everything a session may
# reach before its second factor is under /staff/login/ (see middleware.py).
urlpatterns = [
    path("staff/login/second-factor/", views.SecondFactorView.as_view(), name="verify"),
    path(
        "staff/login/second-factor/key/options/",
        views.SecondFactorKeyOptionsView.as_view(),
        name="verify-key-options",
    ),
    path("staff/login/second-factor/key/", views.SecondFactorKeyView.as_view(), name="verify-key"),
    path("staff/login/set-up/", views.EnrolView.as_view(), name="enrol"),
    path("staff/logout/", views.StaffLogoutView.as_view(), name="logout"),
    path("staff/security/", views.SecurityView.as_view(), name="security"),
    path(
        "staff/security/authenticator/",
        views.TotpReplaceView.as_view(),
        name="totp-replace",
    ),
    path(
        "staff/security/recovery-codes/",
        views.RecoveryCodesView.as_view(),
        name="recovery-codes",
    ),
    path(
        "staff/security/keys/options/",
        views.SecurityKeyOptionsView.as_view(),
        name="key-options",
    ),
    path("staff/security/keys/", views.SecurityKeyAddView.as_view(), name="key-add"),
    path(
        "staff/security/keys/<int:pk>/remove/",
        views.SecurityKeyRemoveView.as_view(),
        name="key-remove",
    ),
    path("staff/security/staff/", views.StaffAccountListView.as_view(), name="staff-list"),
    path(
        "staff/security/staff/<int:pk>/reset/",
        views.StaffAccountResetView.as_view(),
        name="staff-reset",
    ),
]
