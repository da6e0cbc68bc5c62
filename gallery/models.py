"""The public museum's data: rooms (genres), artworks and mixing exhibits."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Genre(models.Model):
    """A room of the museum. Rooms are rows: a fifth room is a data change."""

    slug = models.SlugField(_("slug"), unique=True)
    name = models.CharField(_("name (English)"), max_length=100)
    name_ja = models.CharField(_("name (Japanese)"), max_length=100, blank=True)
    description = models.TextField(_("description (English)"), blank=True)
    description_ja = models.TextField(_("description (Japanese)"), blank=True)
    # What crawlers ask the museums for when collecting this genre's paintings.
    search_terms = models.CharField(
        _("search terms"),
        max_length=200,
        blank=True,
        help_text=_("Comma-separated queries for the crawlers."),
    )
    position = models.PositiveSmallIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["position", "slug"]
        verbose_name = _("genre")
        verbose_name_plural = _("genres")

    def __str__(self) -> str:
        return self.display_name

    def get_absolute_url(self) -> str:
        return reverse("gallery:room", args=[self.slug])

    @property
    def display_name(self) -> str:
        if (get_language() or "").startswith("ja") and self.name_ja:
            return self.name_ja
        return self.name

    @property
    def display_description(self) -> str:
        if (get_language() or "").startswith("ja") and self.description_ja:
            return self.description_ja
        return self.description


class NoiseMode(models.TextChoices):
    """How the generator's per-pixel noise was drawn (part of reproducing a painting)."""

    CONST = "const", _("constant")
    RANDOM = "random", _("random")
    NONE = "none", _("none")


class PublishedQuerySet(models.QuerySet):
    def published(self) -> PublishedQuerySet:
        return self.filter(published=True)

    # Bulk writes send no post_save: they retire the cached pages themselves
    # (gallery.pagecache), e.g. the admin's publish and unpublish actions.
    def update(self, **kwargs: object) -> int:
        from .pagecache import visible_change

        rows = super().update(**kwargs)
        if rows:
            visible_change()
        return rows

    def bulk_create(self, objs, *args, **kwargs):
        from .pagecache import visible_change

        created = super().bulk_create(objs, *args, **kwargs)
        if created:
            visible_change()
        return created

    def bulk_update(self, objs, *args, **kwargs):
        from .pagecache import visible_change

        rows = super().bulk_update(objs, *args, **kwargs)
        if rows:
            visible_change()
        return rows


# Thumbnail widths in pixels; a thumbnail is never wider than its source image.
THUMB_SMALL_WIDTH = 320
THUMB_LARGE_WIDTH = 640


class Artwork(models.Model):
    """One painting in a room, with everything needed to paint it again."""

    genre = models.ForeignKey(
        Genre, on_delete=models.PROTECT, related_name="artworks", verbose_name=_("room")
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    image = models.ImageField(_("image"), upload_to="artworks/", max_length=255)
    thumb_small_webp = models.ImageField(
        _("small thumbnail (WebP)"), upload_to="artworks/thumbs/", blank=True
    )
    thumb_small_jpeg = models.ImageField(
        _("small thumbnail (JPEG)"), upload_to="artworks/thumbs/", blank=True
    )
    thumb_large_webp = models.ImageField(
        _("large thumbnail (WebP)"), upload_to="artworks/thumbs/", blank=True
    )
    thumb_large_jpeg = models.ImageField(
        _("large thumbnail (JPEG)"), upload_to="artworks/thumbs/", blank=True
    )
    width = models.PositiveIntegerField(_("width"), default=0)
    height = models.PositiveIntegerField(_("height"), default=0)
    # Provenance. The link is loose (a setting names the model) so the gallery
    # does not depend on how training stores its checkpoints.
    checkpoint = models.ForeignKey(
        settings.GALLERY_CHECKPOINT_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="artworks",
        verbose_name=_("checkpoint"),
    )
    seed = models.PositiveBigIntegerField(_("seed"))
    psi = models.FloatField(_("truncation ψ"), default=1.0)
    truncation_cutoff = models.PositiveSmallIntegerField(_("truncation cutoff"), null=True, blank=True)
    noise_mode = models.CharField(
        _("noise mode"), max_length=10, choices=NoiseMode.choices, default=NoiseMode.CONST
    )
    class_idx = models.PositiveSmallIntegerField(_("class index"), null=True, blank=True)
    published = models.BooleanField(_("published"), default=False)
    created = models.DateTimeField(_("created"), default=timezone.now)
    # The memorisation guard: the training image this painting is closest to,
    # in the quality report's feature space (training.engine.features).
    nearest_training_image = models.ForeignKey(
        "scraper.ScrapedImage",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("nearest training image"),
    )
    nearest_training_distance = models.FloatField(
        _("distance to the nearest training image"), null=True, blank=True
    )
    # Why the painting may never hang (it copies a training image); blank for
    # every painting that may. A withheld painting is never published.
    withheld_reason = models.CharField(_("withheld because"), max_length=300, blank=True)
    # The painting's feature vector (float32 bytes), so the variety guard
    # compares new paintings with a room without decoding its images again.
    features = models.BinaryField(_("features"), null=True, blank=True, editable=False)
    # The painting as an 8x8 colour thumbnail (float32 bytes, features.glance_uint8):
    # what a visitor sees from across the room, so a batch hangs no look-alikes.
    glance = models.BinaryField(_("glance"), null=True, blank=True, editable=False)

    objects = PublishedQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("artwork")
        verbose_name_plural = _("artworks")
        indexes = [models.Index(fields=["genre", "published", "-created"], name="gallery_art_room_idx")]
        constraints = [
            # Seeds continue per room across checkpoints, so a room never shows
            # two "Untitled (seed 5)". Rows withheld before this rule (an older
            # room repeating a seed) stay out of it and out of the room.
            models.UniqueConstraint(
                fields=["genre", "seed"],
                condition=models.Q(checkpoint__isnull=False, withheld_reason=""),
                name="gallery_artwork_unique_room_seed",
            )
        ]

    def __str__(self) -> str:
        return self.display_title

    def get_absolute_url(self) -> str:
        return reverse("gallery:artwork", args=[self.pk])

    @property
    def display_title(self) -> str:
        return self.title or _("Untitled (seed %(seed)s)") % {"seed": self.seed}

    def thumb_size(self, target_width: int) -> tuple[int, int]:
        """The (width, height) of the thumbnail made for ``target_width``."""
        if not self.width or not self.height:
            return target_width, target_width
        width = min(target_width, self.width)
        return width, max(1, round(self.height * width / self.width))

    @property
    def thumb_small_size(self) -> tuple[int, int]:
        return self.thumb_size(THUMB_SMALL_WIDTH)

    @property
    def thumb_large_size(self) -> tuple[int, int]:
        return self.thumb_size(THUMB_LARGE_WIDTH)

    def neighbours(self) -> tuple[Artwork | None, Artwork | None]:
        """The previous (newer) and next (older) published artworks in the same room."""
        room = Artwork.objects.published().filter(genre_id=self.genre_id).exclude(pk=self.pk)
        newer = Q(created__gt=self.created) | Q(created=self.created, pk__gt=self.pk)
        older = Q(created__lt=self.created) | Q(created=self.created, pk__lt=self.pk)
        previous = room.filter(newer).order_by("created", "id").first()
        following = room.filter(older).order_by("-created", "-id").first()
        return previous, following


class MixingExhibit(models.Model):
    """A style-mixing picture (StyleGAN paper, Figure 3): sources A down the side,
    sources B across the top, and for each style band a grid whose cells take
    A's styles except those of the band, which come from B."""

    genre = models.ForeignKey(
        Genre, on_delete=models.PROTECT, related_name="mixing_exhibits", verbose_name=_("room")
    )
    title = models.CharField(_("title"), max_length=200, blank=True)
    checkpoint = models.ForeignKey(
        settings.GALLERY_CHECKPOINT_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="mixing_exhibits",
        verbose_name=_("checkpoint"),
    )
    row_seeds = models.JSONField(_("seeds of sources A (rows)"), default=list)
    col_seeds = models.JSONField(_("seeds of sources B (columns)"), default=list)
    psi = models.FloatField(_("truncation ψ"), default=1.0)
    # The sources' first N ws truncated (the coarse styles), the rest as drawn; empty: all of them.
    truncation_cutoff = models.PositiveSmallIntegerField(_("truncation cutoff"), null=True, blank=True)
    noise_mode = models.CharField(
        _("noise mode"), max_length=10, choices=NoiseMode.choices, default=NoiseMode.CONST
    )
    # What each band did to this exhibit's paintings, measured when it was
    # built (gallery.mixing.measure_bands): {band: {"change", "colour",
    # "layout", "detail", "towards_b"}}. The page's text is written from it.
    band_measures = models.JSONField(_("measured band effects"), default=dict, blank=True)
    published = models.BooleanField(_("published"), default=False)
    created = models.DateTimeField(_("created"), default=timezone.now)

    objects = PublishedQuerySet.as_manager()

    class Meta:
        ordering = ["-created", "-id"]
        verbose_name = _("mixing exhibit")
        verbose_name_plural = _("mixing exhibits")
        indexes = [models.Index(fields=["published", "-created"], name="gallery_mix_pub_idx")]

    def __str__(self) -> str:
        return self.display_title

    def get_absolute_url(self) -> str:
        return reverse("gallery:exhibit", args=[self.pk])

    @property
    def display_title(self) -> str:
        return self.title or _("Style mixing in %(room)s") % {"room": self.genre.display_name}


class MixingSource(models.Model):
    """One source painting of an exhibit: a row (source A) or a column (source B)."""

    class Axis(models.TextChoices):
        ROW = "row", _("source A (row)")
        COL = "col", _("source B (column)")

    exhibit = models.ForeignKey(MixingExhibit, on_delete=models.CASCADE, related_name="sources")
    axis = models.CharField(_("axis"), max_length=3, choices=Axis.choices)
    position = models.PositiveSmallIntegerField(_("position"))
    seed = models.PositiveBigIntegerField(_("seed"))
    image = models.ImageField(_("image"), upload_to="exhibits/", max_length=255)
    # Optional: the same painting when it also hangs in a room.
    artwork = models.ForeignKey(
        Artwork, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("artwork")
    )

    class Meta:
        ordering = ["exhibit", "axis", "position"]
        verbose_name = _("mixing source")
        verbose_name_plural = _("mixing sources")
        constraints = [
            models.UniqueConstraint(
                fields=["exhibit", "axis", "position"], name="gallery_mixsource_unique_slot"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_axis_display()} {self.position + 1} (seed {self.seed})"


class StyleBand(models.TextChoices):
    COARSE = "coarse", _("coarse")
    MIDDLE = "middle", _("middle")
    FINE = "fine", _("fine")


class MixingGrid(models.Model):
    """One band's grid of an exhibit: cells copy B's styles in layers
    ``layer_start`` up to (not including) ``layer_stop``."""

    exhibit = models.ForeignKey(MixingExhibit, on_delete=models.CASCADE, related_name="grids")
    band = models.CharField(_("style band"), max_length=10, choices=StyleBand.choices)
    layer_start = models.PositiveSmallIntegerField(_("first layer"))
    layer_stop = models.PositiveSmallIntegerField(_("layer after the last"))
    # The composed figure (sources and cells in one picture), for download and admin.
    figure = models.ImageField(_("composed figure"), upload_to="exhibits/", max_length=255, blank=True)

    class Meta:
        ordering = ["exhibit", "layer_start"]
        verbose_name = _("mixing grid")
        verbose_name_plural = _("mixing grids")
        constraints = [
            models.UniqueConstraint(fields=["exhibit", "band"], name="gallery_mixgrid_unique_band")
        ]

    def __str__(self) -> str:
        return f"{self.get_band_display()} ({self.layer_label})"

    @property
    def last_layer(self) -> int:
        return self.layer_stop - 1

    @property
    def layer_label(self) -> str:
        return _("layers %(first)s–%(last)s") % {"first": self.layer_start, "last": self.last_layer}

    @property
    def resolution_label(self) -> str:
        """The feature-map resolutions the band's layers paint, e.g. '4²–8²',
        or '64²' when they all paint one (the fine band of a 64 px model).
        Two style inputs per resolution, starting at 4×4."""
        low = 2 ** (2 + self.layer_start // 2)
        high = 2 ** (2 + self.last_layer // 2)
        return f"{low}²" if low == high else f"{low}²–{high}²"


class MixingCell(models.Model):
    """One mixed painting: row source A's styles with band styles from column source B."""

    grid = models.ForeignKey(MixingGrid, on_delete=models.CASCADE, related_name="cells")
    row = models.PositiveSmallIntegerField(_("row"))
    col = models.PositiveSmallIntegerField(_("column"))
    image = models.ImageField(_("image"), upload_to="exhibits/", max_length=255)

    class Meta:
        ordering = ["grid", "row", "col"]
        verbose_name = _("mixing cell")
        verbose_name_plural = _("mixing cells")
        constraints = [
            models.UniqueConstraint(fields=["grid", "row", "col"], name="gallery_mixcell_unique_cell")
        ]

    def __str__(self) -> str:
        return f"{self.grid} [{self.row}, {self.col}]"


class PaintingRequest(models.Model):
    """Paintings or a mixing exhibit asked of a checkpoint: the row is the
    truth while the job waits for a GPU worker (``museum.queueing``), so a
    request made while the broker was down is sent by the periodic sweep."""

    class Kind(models.TextChoices):
        ARTWORKS = "artworks", _("paintings")
        EXHIBIT = "exhibit", _("mixing exhibit")

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    checkpoint = models.ForeignKey(
        settings.GALLERY_CHECKPOINT_MODEL,
        on_delete=models.CASCADE,
        related_name="painting_requests",
        verbose_name=_("checkpoint"),
    )
    # The room it paints: the checkpoint's genre, or one class's room of a
    # class-conditional model (empty on requests made before there were such).
    genre = models.ForeignKey(
        "gallery.Genre",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="painting_requests",
        verbose_name=_("room"),
    )
    count = models.PositiveIntegerField(_("paintings"), default=0)
    psi = models.FloatField(_("truncation ψ"), default=0.7)
    # ψ applies to the first N ws only (the coarse styles); empty: to all of them.
    truncation_cutoff = models.PositiveSmallIntegerField(_("truncation cutoff"), null=True, blank=True)
    rows = models.PositiveSmallIntegerField(_("rows"), default=0)
    columns = models.PositiveSmallIntegerField(_("columns"), default=0)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent to the broker"), null=True, blank=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    # The claim (museum.heartbeat): the worker painting it renews this while it
    # runs; a running request whose heartbeat went stale lost its worker and is
    # queued again by the sweep, at most PAINTING_MAX_ATTEMPTS times in all.
    heartbeat = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)
    # The ids of the artworks or the exhibit it made.
    made = models.JSONField(_("made"), default=list, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("painting request")
        verbose_name_plural = _("painting requests")

    def __str__(self) -> str:
        room = f" for {self.genre.slug}" if self.genre_id else ""
        if self.kind == self.Kind.EXHIBIT:
            return f"Mixing exhibit {self.rows}×{self.columns} from {self.checkpoint}{room}"
        return f"{self.count} paintings from {self.checkpoint}{room}"
