from django.conf.urls.i18n import i18n_patterns
from django.contrib import admin
from django.urls import include, path, re_path
from django.utils.translation import gettext_lazy as _
from django.views.decorators.csrf import csrf_exempt
from django.views.i18n import set_language

from museum.changelist import BoundedDateHierarchyMixin
from museum.health import healthz, readyz
from museum.media import serve_media

# The admin is the museum's back office, not "Django administration".
admin.site.site_header = _("AI Art Gallery · back office")
admin.site.site_title = _("AI Art Gallery back office")
admin.site.index_title = _("Crawls, curation, training and the rooms")
# The app list beside every page took 300 of 1280 px, leaving lists with filters
# too narrow for their columns; the breadcrumbs and the index lead everywhere.
admin.site.enable_nav_sidebar = False


def _bounded_date_hierarchies() -> None:
    """Every registered admin with a date hierarchy (django-axes' lists among
    them) answers an impossible year with the ignored-filter redirect, not a 500."""
    for model, model_admin in list(admin.site._registry.items()):
        if model_admin.date_hierarchy and not isinstance(model_admin, BoundedDateHierarchyMixin):
            bounded = type(type(model_admin).__name__, (BoundedDateHierarchyMixin, type(model_admin)), {})
            admin.site.unregister(model)
            admin.site.register(model, bounded)


_bounded_date_hierarchies()


urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
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

# Every media file, on disk or S3, through the view that checks its row's state.
urlpatterns += [re_path(r"^media/(?P<path>.+)$", serve_media, name="media")]
