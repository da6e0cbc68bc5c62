"""Reads for the public pages, shaped so a page's query count stays constant
however many paintings a room holds."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser, User
from django.db.models import Count, OuterRef, Q, QuerySet, Subquery
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from scraper.models import ScrapedImage

from .mixing import strongest_band
from .models import Artwork, Genre, MixingCell, MixingExhibit, MixingGrid, MixingSource


@dataclass
class Room:
    genre: Genre
    count: int
    cover: Artwork | None
    eager: bool = False  # set by the view: covers above the fold load eagerly


def rooms() -> list[Room]:
    """Every room with its number of published paintings and its newest one as
    cover: two queries in all."""
    newest = (
        Artwork.objects.published().filter(genre=OuterRef("pk")).order_by("-created", "-id").values("pk")[:1]
    )
    genres = list(
        Genre.objects.annotate(
            artwork_count=Count("artworks", filter=Q(artworks__published=True)),
            cover_id=Subquery(newest),
        )
    )
    covers = Artwork.objects.in_bulk([g.cover_id for g in genres if g.cover_id])
    return [Room(g, g.artwork_count, covers.get(g.cover_id)) for g in genres]


def room_artworks(genre: Genre) -> QuerySet[Artwork]:
    """A room's published paintings, newest first (served by the room index)."""
    # Feature vectors are for the room guards, not for pages: never loaded here.
    return Artwork.objects.published().filter(genre=genre).defer("features").order_by("-created", "-id")


def viewer(request: HttpRequest) -> User | AnonymousUser:
    """The visitor, without opening a session the visitor does not have: an
    anonymous page that never touches the session does not vary on Cookie."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        return AnonymousUser()
    return request.user


def can_preview(user: User | AnonymousUser, model: type) -> bool:
    """Staff who may change a model may see its unpublished rows."""
    opts = model._meta
    return user.is_active and user.is_staff and user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


def visible_artworks(user: User | AnonymousUser) -> QuerySet[Artwork]:
    qs = Artwork.objects.select_related(
        "genre", "checkpoint", "checkpoint__run", "nearest_training_image"
    ).defer("features")
    return qs if can_preview(user, Artwork) else qs.published()


def visible_exhibits(user: User | AnonymousUser) -> QuerySet[MixingExhibit]:
    qs = MixingExhibit.objects.select_related("genre", "checkpoint", "checkpoint__run")
    return qs if can_preview(user, MixingExhibit) else qs.published()


def shown_nearest_training_image(artwork: Artwork) -> ScrapedImage | None:
    """The training painting shown beside an artwork: only an approved image
    (a curator's later rejection takes it off the page, not off the record)."""
    image = artwork.nearest_training_image
    if image is None or image.status != ScrapedImage.Status.APPROVED:
        return None
    return image


@dataclass
class BandRow:
    source: MixingSource
    cells: list[MixingCell]


ASPECT_LABELS = {
    "colour": _("colour"),
    "layout": _("layout (where it is light and dark)"),
    "detail": _("fine detail (edges and texture)"),
}


@dataclass
class BandEffect:
    """What swapping one band did in this exhibit, as the page words it."""

    change_percent: int
    colour_percent: int
    layout_percent: int
    detail_percent: int
    aspect: str
    strongest: bool


def band_effect(measures: dict, strongest: bool) -> BandEffect | None:
    if not measures:
        return None
    return BandEffect(
        change_percent=round(100 * measures.get("change", 0.0)),
        colour_percent=round(100 * measures.get("colour", 0.0)),
        layout_percent=round(100 * measures.get("layout", 0.0)),
        detail_percent=round(100 * measures.get("detail", 0.0)),
        aspect=ASPECT_LABELS.get(measures.get("aspect", ""), measures.get("aspect", "")),
        strongest=strongest,
    )


@dataclass
class BandTable:
    grid: MixingGrid
    rows: list[BandRow]
    effect: BandEffect | None = None


@dataclass
class ExhibitLayout:
    """An exhibit arranged as the StyleGAN paper's Figure 3."""

    columns: list[MixingSource]
    bands: list[BandTable]
    strongest: BandTable | None = None


def exhibit_layout(exhibit: MixingExhibit) -> ExhibitLayout:
    """Sources B across the top; per band, each source A with its row of mixed cells."""
    sources = list(exhibit.sources.all())
    rows = [s for s in sources if s.axis == MixingSource.Axis.ROW]
    columns = [s for s in sources if s.axis == MixingSource.Axis.COL]
    grids = list(exhibit.grids.order_by("layer_start"))
    cells: dict[tuple[int, int, int], MixingCell] = {
        (c.grid_id, c.row, c.col): c for c in MixingCell.objects.filter(grid__exhibit=exhibit)
    }
    measures = exhibit.band_measures or {}
    top = strongest_band(measures)
    bands = []
    for grid in grids:
        band_rows = []
        for source in rows:
            row_cells = [cells.get((grid.pk, source.position, col.position)) for col in columns]
            band_rows.append(BandRow(source, [c for c in row_cells if c is not None]))
        bands.append(BandTable(grid, band_rows, band_effect(measures.get(grid.band, {}), grid.band == top)))
    strongest = next((b for b in bands if b.effect and b.effect.strongest), None)
    return ExhibitLayout(columns, bands, strongest)


def exhibit_previews(exhibits: list[MixingExhibit]) -> dict[int, MixingCell]:
    """One cell per exhibit for the list page (the first cell of its first band), in one query."""
    first_cells = (
        MixingCell.objects.filter(grid__exhibit__in=exhibits, row=0, col=0)
        .select_related("grid")
        .order_by("grid__exhibit_id", "grid__layer_start")
    )
    previews: dict[int, MixingCell] = {}
    for cell in first_cells:
        previews.setdefault(cell.grid.exhibit_id, cell)
    return previews
