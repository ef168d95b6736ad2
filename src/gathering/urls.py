from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from gathering.api.api import api

admin.site.site_header = "Gathering"
admin.site.site_title = "Gathering back office"
admin.site.index_title = "Back office"

handler400 = "gathering.core.views.bad_request"
handler404 = "gathering.core.views.page_not_found"
handler500 = "gathering.core.views.server_error"

urlpatterns = [
    path("api/", api.urls),
    path("export/", include("gathering.program.urls_exports")),
    # Staff sign in on one page of ours, not on the admin's own form.
    path("admin/login/", RedirectView.as_view(pattern_name="core:staff-login", query_string=True)),
    path("admin/", admin.site.urls),
    path("", include("gathering.core.urls")),
    path("", include("gathering.accounts.urls")),
    path("", include("gathering.checkin.urls")),
    path("", include("gathering.transparency.urls")),
    path("", include("gathering.abuse.urls")),
]
urlpatterns += i18n_patterns(
    path("", include("gathering.program.urls")),
    path("", include("gathering.registration.urls")),
    path("", include("gathering.voices.urls")),
    path("", include("gathering.satellites.urls")),
    path("", include("gathering.live.urls")),
    path("", include("gathering.audit.urls")),
    path("", include("gathering.privacy.urls")),
    prefix_default_language=True,
)

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
