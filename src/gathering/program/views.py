# Placeholder: the public pages are being written.
from django.http import HttpResponse
from django.views import View


class _Todo(View):
    def get(self, request, *args, **kwargs):
        return HttpResponse("todo")


HomeView = ArchiveView = EditionDetailView = SessionListView = SessionDetailView = _Todo
SpeakerListView = SpeakerDetailView = _Todo
