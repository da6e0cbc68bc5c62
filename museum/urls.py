from django.conf import settings
from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language
from django.views.static import serve

from museum.health import healthz

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The header's language buttons post here with no CSRF token: a token in
    # every page would give each visitor a cookie and a page of their own,
    # which no cache can share. A forged post can only change a visitor's
    # display language.
    path("i18n/setlang/", csrf_exempt(set_language), name="set_language"),
    path("admin/scraper/review/", include("scraper.urls")),
    path("admin/", admin.site.urls),
]
urlpatterns += i18n_patterns(
    path("", include("gallery.urls")),
    prefix_default_language=False,
)

if settings.SERVE_MEDIA:
    # Embedded defaults only: media files from the data folder. With S3 the
    # bucket (or its CDN) serves them.
    urlpatterns += [
        # MEDIA_ROOT is read per request so tests that move it are served too.
        re_path(r"^media/(?P<path>.*)$", lambda request, path: serve(request, path, settings.MEDIA_ROOT)),
    ]
