from django.urls import path

from gathering.program import export_views as views

app_name = "exports"

urlpatterns = [
    path("<int:year>/schedule.ics", views.EditionICalView.as_view(), name="edition-ical"),
    path("<int:year>/sessions/<int:pk>.ics", views.SessionICalView.as_view(), name="session-ical"),
    path("speakers/<slug:slug>.ics", views.SpeakerICalView.as_view(), name="speaker-ical"),
    path("<int:year>/schedule.xml", views.FrabXmlView.as_view(), name="frab-xml"),
    path("<int:year>/schedule.json", views.C3vocJsonView.as_view(), name="c3voc-json"),
]
