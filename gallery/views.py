"""The public museum's pages. Thin: reads come from ``gallery.selectors``."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from . import selectors
from .models import Genre, MixingExhibit
from .pagecache import cached_page

ROOM_PAGE_SIZE = 24
EXHIBITS_PAGE_SIZE = 12
# Pictures in the first row load eagerly (they are above the fold); the rest lazily.
EAGER_THUMBNAILS = 4
EAGER_COVERS = 2


@cached_page
def home(request: HttpRequest) -> HttpResponse:
    rooms = selectors.rooms()
    for i, room_ in enumerate(rooms):
        room_.eager = i < EAGER_COVERS
    return render(request, "gallery/home.html", {"rooms": rooms, "nav": "rooms"})


@cached_page
def room(request: HttpRequest, slug: str) -> HttpResponse:
    genre = get_object_or_404(Genre, slug=slug)
    page = Paginator(selectors.room_artworks(genre), ROOM_PAGE_SIZE).get_page(request.GET.get("page"))
    artworks = list(page.object_list)
    for i, art in enumerate(artworks):
        art.eager = i < EAGER_THUMBNAILS
    return render(
        request, "gallery/room.html", {"genre": genre, "page": page, "artworks": artworks, "nav": "rooms"}
    )


@cached_page
def artwork(request: HttpRequest, pk: int) -> HttpResponse:
    art = get_object_or_404(selectors.visible_artworks(selectors.viewer(request)), pk=pk)
    previous, following = art.neighbours()
    nearest = selectors.shown_nearest_training_image(art)
    context = {
        "artwork": art,
        "nearest": nearest,
        "source_link": nearest.page_link if nearest else "",
        "previous": previous,
        "next": following,
        "nav": "rooms",
    }
    return render(request, "gallery/artwork.html", context)


@cached_page
def exhibits(request: HttpRequest) -> HttpResponse:
    page = Paginator(MixingExhibit.objects.published().select_related("genre"), EXHIBITS_PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    items = list(page.object_list)
    previews = selectors.exhibit_previews(items)
    return render(
        request,
        "gallery/exhibits.html",
        {"page": page, "exhibits": [(e, previews.get(e.pk)) for e in items], "nav": "exhibits"},
    )


@cached_page
def exhibit(request: HttpRequest, pk: int) -> HttpResponse:
    item = get_object_or_404(selectors.visible_exhibits(selectors.viewer(request)), pk=pk)
    return render(
        request,
        "gallery/exhibit.html",
        {"exhibit": item, "layout": selectors.exhibit_layout(item), "nav": "exhibits"},
    )
