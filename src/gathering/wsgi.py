import gc
import os

from django.core.validators import validate_email
from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gathering.settings")
application = get_wsgi_application()

# Django, the apps and the URLconf are loaded for good: take them out of the garbage
# collector's sight. A full collection stops every thread of the process, and walking these
# ~130,000 objects made it last about 50 ms, long enough to show in every page's p99.
get_resolver().urlconf_module  # noqa: B018 (imports the URLconf and the API now)
# Django's email validator compiles its (large, Unicode) domain pattern on first use: left to
# the first requests, every thread of a fresh server compiled it at once, for up to a second.
validate_email("warm-up@example.org")
gc.freeze()
