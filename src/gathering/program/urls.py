from django.urls import path

from gathering.program import views

app_name = "program"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("archive/", views.ArchiveView.as_view(), name="archive"),
    path("<int:year>/", views.EditionDetailView.as_view(), name="edition-detail"),
    path("<int:year>/program/", views.SessionListView.as_view(), name="session-list"),
    path("<int:year>/sessions/<int:pk>/", views.SessionDetailView.as_view(), name="session-detail"),
    path("<int:year>/speakers/", views.SpeakerListView.as_view(), name="speaker-list"),
    path("speakers/<slug:slug>/", views.SpeakerDetailView.as_view(), name="speaker-detail"),
]
