"""The museum's URLs plus what only the page bench needs, served by the same
gunicorn process: a bare view (the baseline every page is compared with), the
public views without their page cache, and a way to retire every cached page."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from gallery import views
from gallery.pagecache import bump_generation
from museum.urls import urlpatterns as museum_urlpatterns


def bare(request: HttpRequest) -> HttpResponse:
    return HttpResponse("ok")


def bump(request: HttpRequest) -> HttpResponse:
    bump_generation()
    return HttpResponse("every cached page retired")


urlpatterns = [
    path("bench/bare", bare),
    path("bench/bump", bump),
    path("bench/uncached/", views.home.__wrapped__),
    path("bench/uncached/rooms/<slug:slug>/", views.room.__wrapped__),
    path("bench/uncached/artworks/<int:pk>/", views.artwork.__wrapped__),
    path("bench/uncached/exhibits/", views.exhibits.__wrapped__),
    path("bench/uncached/exhibits/<int:pk>/", views.exhibit.__wrapped__),
    *museum_urlpatterns,
]
