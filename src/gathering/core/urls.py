from django.urls import path

from gathering.core.views import StaffLoginView

app_name = "core"

urlpatterns = [
    path("staff/login/", StaffLoginView.as_view(), name="staff-login"),
]
