from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.http import HttpResponse
from django.urls import include, path, re_path

from museum.media import serve_media


def healthz(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/scraper/review/", include("scraper.urls")),
    path("admin/", admin.site.urls),
]
urlpatterns += i18n_patterns(
    path("", include("gallery.urls")),
    prefix_default_language=False,
)

# Every media file, on disk or S3, through the view that checks its row's state.
urlpatterns += [re_path(r"^media/(?P<path>.+)$", serve_media, name="media")]
