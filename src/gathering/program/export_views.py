# Placeholder: the exports are being written.
from gathering.program.views import _Todo

EditionICalView = SessionICalView = SpeakerICalView = FrabXmlView = C3vocJsonView = _Todo
