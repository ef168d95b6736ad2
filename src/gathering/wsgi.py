import gc
import os
import sys

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
application = get_wsgi_application()

# Django, the apps and the URLconf are loaded for good: take them out of the garbage
# collector's sight. A full collection stops every thread of the process, and walking these
# ~130,000 objects made it last about 50 ms, long enough to show in every page's p99.
get_resolver().urlconf_module  # noqa: B018 (imports the URLconf and the API now)
gc.freeze()

# How long a thread may hold the GIL while another waits (Python's default: 5 ms). A thread
# that comes back from the database waits that long for a thread busy with CPU work; the leader
# of a group commit does so for every statement while other processes queue on its lock.
if switch_interval := os.environ.get("PYTHON_SWITCH_INTERVAL"):
    sys.setswitchinterval(float(switch_interval))
