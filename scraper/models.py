"""Crawl jobs and the images they bring in (the curation queue)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scraper.records import web_url

# A perceptual hash is 64 bits; it is also stored as eight 8-bit bands. Two
# hashes within Hamming distance 6 differ in at most 6 bands, so at least two
# of the eight bands are equal: an indexed equality lookup on the bands finds
# every near-duplicate candidate without scanning the genre (see ingest.py).
PHASH_BANDS = 8


class Source(models.TextChoices):
    AIC = "aic", _("Art Institute of Chicago")
    CMA = "cma", _("Cleveland Museum of Art")
    MET = "met", _("The Metropolitan Museum of Art")
    WIKIMEDIA = "wikimedia", _("Wikimedia Commons")
    # Our own procedural collection (scraper/samplemuseum/), for offline demos;
    # it speaks the AIC API, but its provenance must not claim to be AIC.
    SAMPLE = "sample", _("Sample Museum (synthetic, offline)")


class CrawlJob(models.Model):
    """One crawl of one source for one genre. Its state lives here, so the
    Celery task that runs it can be retried or redelivered safely."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("queued")
        RUNNING = "running", _("running")
        CANCELLING = "cancelling", _("cancelling")
        CANCELLED = "cancelled", _("cancelled")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    ACTIVE_STATUSES = (Status.QUEUED, Status.RUNNING, Status.CANCELLING)

    source = models.CharField(_("source"), max_length=20, choices=Source.choices)
    genre = models.ForeignKey("gallery.Genre", on_delete=models.PROTECT, related_name="crawl_jobs")
    query = models.CharField(
        _("query"), max_length=200, blank=True, help_text=_("Leave blank to use the genre's search terms.")
    )
    item_limit = models.PositiveIntegerField(
        _("item limit"), default=0, help_text=_("Stop after this many items; 0 means no limit.")
    )
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    counts = models.JSONField(_("counts per outcome"), default=dict, blank=True)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created = models.DateTimeField(_("created"), auto_now_add=True)
    started = models.DateTimeField(_("started"), null=True, blank=True)
    finished = models.DateTimeField(_("finished"), null=True, blank=True)
    log_tail = models.TextField(_("log (last lines)"), blank=True)
    error = models.TextField(_("error"), blank=True)
    # The lease (see scraper.services): the worker holding the token owns the
    # running crawl while its heartbeat is fresh.
    worker = models.CharField(_("worker"), max_length=200, blank=True)
    heartbeat = models.DateTimeField(_("last heartbeat"), null=True, blank=True)
    lease_token = models.CharField(_("lease token"), max_length=32, blank=True)
    # When the stale-crawl check last sent this job again (one message per stale period).
    requeued_at = models.DateTimeField(_("re-queued at"), null=True, blank=True)
    # When the broker last took this job's message (museum.queueing).
    sent_at = models.DateTimeField(_("sent to the broker"), null=True, blank=True)

    class Meta:
        ordering = ["-created"]
        verbose_name = _("crawl job")
        verbose_name_plural = _("crawl jobs")
        permissions = [("start_crawl", _("Can start and cancel crawls"))]

    def __str__(self) -> str:
        return f"Crawl {self.pk} ({self.source}, {self.genre.slug})"

    @property
    def effective_query(self) -> str:
        return self.query or self.genre.search_terms

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    def heartbeat_is_fresh(self, now: datetime | None = None) -> bool:
        """True while the worker holding the lease has beaten recently enough."""
        if self.heartbeat is None:
            return False
        now = now or timezone.now()
        return now - self.heartbeat < timedelta(seconds=settings.CRAWL_STALE_SECONDS)

    @property
    def processed(self) -> int:
        """Items handled so far, whatever their outcome (keys without a reason)."""
        return sum(n for key, n in self.counts.items() if ":" not in key)

    @property
    def progress_percent(self) -> int | None:
        """Percent of the item limit reached, or None when there is no limit."""
        if not self.item_limit:
            return None
        return min(100, round(100 * self.processed / self.item_limit))


def scraped_image_path(instance: ScrapedImage, filename: str) -> str:
    """Files are named by the content hash, never by URL text; a two-letter
    fan-out keeps directories small."""
    extension = filename.rsplit(".", 1)[-1].lower() if "." in filename else "jpg"
    digest = instance.content_hash
    return f"scraped/{digest[:2]}/{digest}.{extension}"


class ScrapedImage(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        APPROVED = "approved", _("approved")
        REJECTED = "rejected", _("rejected")

    job = models.ForeignKey(CrawlJob, on_delete=models.SET_NULL, null=True, blank=True, related_name="images")
    genre = models.ForeignKey("gallery.Genre", on_delete=models.PROTECT, related_name="scraped_images")
    source = models.CharField(_("source"), max_length=20, choices=Source.choices, db_index=True)
    source_id = models.CharField(_("source id"), max_length=200, blank=True)
    image_url = models.URLField(_("image URL"), max_length=2000, blank=True)
    page_url = models.URLField(_("page URL"), max_length=2000, blank=True)
    title = models.CharField(_("title"), max_length=500, blank=True)
    artist = models.CharField(_("artist"), max_length=300, blank=True)
    date_text = models.CharField(_("date"), max_length=100, blank=True)
    licence = models.CharField(_("licence"), max_length=100, blank=True)
    image = models.FileField(_("image"), upload_to=scraped_image_path, max_length=200)
    # A small copy for the curation queue, so a page of 48 loads fast. Rows
    # made without one (older rows, fixtures) fall back to the image itself.
    thumbnail = models.FileField(_("thumbnail"), max_length=200, blank=True)
    width = models.PositiveIntegerField(_("width"))
    height = models.PositiveIntegerField(_("height"))
    content_hash = models.CharField(_("SHA-256"), max_length=64, unique=True)
    phash = models.CharField(_("perceptual hash"), max_length=16, blank=True)
    phash_band0 = models.PositiveSmallIntegerField(null=True, blank=True, editable=False, db_index=True)
    phash_band1 = models.PositiveSmallIntegerField(null=True, blank=True, editable=False, db_index=True)
    phash_band2 = models.PositiveSmallIntegerField(null=True, blank=True, editable=False, db_index=True)
    phash_band3 = models.PositiveSmallIntegerField(null=True, blank=True, editable=False, db_index=True)
    phash_band4 = models.PositiveSmallIntegerField(null=True, blank=True, editable=False, db_index=True)
    phash_band5 = models.PositiveSmallIntegerField(null=True, blank=True, editable=False, db_index=True)
    phash_band6 = models.PositiveSmallIntegerField(null=True, blank=True, editable=False, db_index=True)
    phash_band7 = models.PositiveSmallIntegerField(null=True, blank=True, editable=False, db_index=True)
    near_duplicate_of = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="near_duplicates",
        verbose_name=_("near duplicate of"),
    )
    near_duplicate_distance = models.PositiveSmallIntegerField(
        _("near-duplicate distance"), null=True, blank=True
    )
    quality_hints = models.JSONField(_("quality hints"), default=list, blank=True)
    is_demo = models.BooleanField(_("demo image"), default=False)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        verbose_name=_("reviewed by"),
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)
    rejection_reason = models.CharField(_("rejection reason"), max_length=300, blank=True)
    created = models.DateTimeField(_("created"), auto_now_add=True)

    class Meta:
        ordering = ["created", "id"]
        verbose_name = _("scraped image")
        verbose_name_plural = _("scraped images")
        permissions = [("review_images", _("Can approve or reject scraped images"))]
        indexes = [models.Index(fields=["genre", "status"], name="scraper_img_genre_status")]

    def __str__(self) -> str:
        return self.title or f"{self.source}:{self.source_id}"

    def save(self, *args, **kwargs) -> None:
        for field, value in zip(PHASH_BAND_FIELDS, phash_bands(self.phash), strict=True):
            setattr(self, field, value)
        if kwargs.get("update_fields") is not None and "phash" in kwargs["update_fields"]:
            kwargs["update_fields"] = {*kwargs["update_fields"], *PHASH_BAND_FIELDS}
        super().save(*args, **kwargs)

    @property
    def page_link(self) -> str:
        """The source page as a safe link target: "" unless it is http(s), so
        a row stored before URLs were checked never renders a script link."""
        return web_url(self.page_url)

    @property
    def thumbnail_url(self) -> str:
        return (self.thumbnail or self.image).url


PHASH_BAND_FIELDS = tuple(f"phash_band{i}" for i in range(PHASH_BANDS))


def phash_bands(phash: str) -> list[int | None]:
    """The eight bytes of a 64-bit hex perceptual hash (None when absent)."""
    if len(phash) != 2 * PHASH_BANDS:
        return [None] * PHASH_BANDS
    return [int(phash[2 * i : 2 * i + 2], 16) for i in range(PHASH_BANDS)]
