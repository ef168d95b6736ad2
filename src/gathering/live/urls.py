from django.urls import path

from gathering.live import views

app_name = "live"

urlpatterns = [
    path("<int:year>/live/", views.LiveView.as_view(), name="live"),
    path("<int:year>/live/state.json", views.StateView.as_view(), name="state"),
    path("<int:year>/wall/", views.WallView.as_view(), name="wall"),
    path(
        "<int:year>/live/announcements/",
        views.AnnouncementsView.as_view(),
        name="announcements",
    ),
]
