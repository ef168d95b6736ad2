"""Exports of the program for other software: iCalendar feeds (:mod:`.ical`), the frab schedule
XML (:mod:`.frab`) and the c3voc schedule JSON (:mod:`.c3voc`).

Builders take a loaded :class:`~.common.Schedule` (or sessions) and an
:class:`~.common.ExportContext` and return the document; they never read the request.
"""
