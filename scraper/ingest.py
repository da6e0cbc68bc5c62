"""Turn a downloaded image into a ScrapedImage, and count every outcome on its crawl job.

Called by the Scrapy item pipeline (one call per item) and by anything else
that brings images in (the demo museum, the benchmark).

Near duplicates: a perceptual hash is 64 bits, also stored as eight indexed
8-bit bands (see ``scraper.models.PHASH_BANDS``). Two hashes within Hamming
distance ``NEAR_DUPLICATE_DISTANCE`` (6) share at least two equal bands, so
an indexed OR of eight equality lookups returns every true candidate. Only
those candidates (about 8/256 of a genre with evenly spread hashes, capped at
``MAX_NEAR_DUPLICATE_CANDIDATES``) are compared in Python, instead of the
whole genre on every ingest.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation

from gallery.models import Genre
from scraper.imagecheck import DEFAULT_MAX_BYTES, DEFAULT_MIN_SIDE, ImageRejected, check_image
from scraper.models import PHASH_BAND_FIELDS, CrawlJob, ScrapedImage, phash_bands
from scraper.outcomes import outcome_label
from scraper.records import Record, RecordRejected, clean_record

NEAR_DUPLICATE_DISTANCE = 6
MAX_NEAR_DUPLICATE_CANDIDATES = 2000
LOG_TAIL_LINES = 200


@dataclass(frozen=True)
class IngestResult:
    outcome: str  # "stored", "duplicate", "rejected" (the image) or "skipped" (the record)
    reason: str = ""  # e.g. "truncated"; "near_duplicate" for a stored near duplicate
    image_id: int | None = None  # the stored image, or the one this duplicates


def ingest_image(
    job_id: int | None, item: dict[str, Any], data: bytes, content_type: str | None = None
) -> IngestResult:
    """Check, store and record one image. Bad records and bad images are
    counted (``skipped:<reason>``, ``rejected:<reason>``), never raised; the
    record's shape is checked before any file is written.

    ``job_id`` may be None for images that come from no crawl (demo data,
    benchmarks); then ``item["genre"]`` must name the genre.
    """
    try:
        record = clean_record(item)
    except RecordRejected as exc:
        record_outcome(job_id, "skipped", exc.reason, exc.detail)
        return IngestResult("skipped", exc.reason)
    label = record.image_url
    try:
        checked = check_image(
            data,
            content_type,
            max_bytes=getattr(settings, "SCRAPER_MAX_IMAGE_BYTES", DEFAULT_MAX_BYTES),
            min_side=getattr(settings, "SCRAPER_MIN_IMAGE_SIDE", DEFAULT_MIN_SIDE),
        )
    except ImageRejected as exc:
        record_outcome(job_id, "rejected", exc.reason, f"{label}: {exc.detail}")
        return IngestResult("rejected", exc.reason)

    existing_id = (
        ScrapedImage.objects.filter(content_hash=checked.sha256).values_list("id", flat=True).first()
    )
    if existing_id is not None:
        record_outcome(job_id, "duplicate", "", f"{label}: same content as image #{existing_id}")
        return IngestResult("duplicate", "", existing_id)

    genre = _genre_for(job_id, record)
    near = find_near_duplicate(genre.pk, checked.phash)
    name = f"scraped/{checked.sha256[:2]}/{checked.sha256}.{checked.extension}"
    thumbnail_name = f"scraped/thumbs/{checked.sha256[:2]}/{checked.sha256}.jpg"
    saved: list[str] = []  # files this call wrote, removed again if no row comes of them
    # Same name means same bytes, so a file left by an earlier (deleted) row is reused.
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(checked.data))
        saved.append(name)
    if not default_storage.exists(thumbnail_name):
        thumbnail_name = default_storage.save(thumbnail_name, ContentFile(checked.thumbnail))
        saved.append(thumbnail_name)
    try:
        with transaction.atomic():
            image = ScrapedImage.objects.create(
                job_id=job_id,
                genre=genre,
                source=record.source,
                source_id=record.source_id,
                image_url=record.image_url,
                page_url=record.page_url,
                title=record.title,
                artist=record.artist,
                date_text=record.date,
                licence=record.licence,
                image=name,
                thumbnail=thumbnail_name,
                width=checked.width,
                height=checked.height,
                content_hash=checked.sha256,
                phash=checked.phash,
                near_duplicate_of_id=near[0] if near else None,
                near_duplicate_distance=near[1] if near else None,
                quality_hints=checked.quality_hints,
                is_demo=record.is_demo,
            )
            # Counted in the same transaction as the row: one commit, and the
            # count can never disagree with what is stored.
            reason = "near_duplicate" if near else ""
            detail = f"{label}: stored as image #{image.pk}"
            if near:
                detail += f", near duplicate of #{near[0]} (distance {near[1]})"
            _count(job_id, "stored", reason, detail)
    except IntegrityError:
        # Another worker stored the same bytes between our lookup and insert
        # (its row names the same files, so they stay).
        existing_id = (
            ScrapedImage.objects.filter(content_hash=checked.sha256).values_list("id", flat=True).first()
        )
        if existing_id is None:
            _delete_unused(saved)
            raise
        _delete_unused(saved)
        record_outcome(job_id, "duplicate", "", f"{label}: same content as image #{existing_id}")
        return IngestResult("duplicate", "", existing_id)
    except Exception:
        _delete_unused(saved)  # no row names them: leave no orphan files in media
        raise

    return IngestResult("stored", reason, image.pk)


def _delete_unused(names: list[str]) -> None:
    """Delete the files this ingest wrote that no row refers to."""
    for name in names:
        if not ScrapedImage.objects.filter(Q(image=name) | Q(thumbnail=name)).exists():
            default_storage.delete(name)


def find_near_duplicate(genre_id: int, phash: str, exclude_id: int | None = None) -> tuple[int, int] | None:
    """The (id, distance) of the closest image of the genre within
    NEAR_DUPLICATE_DISTANCE, oldest first on ties; None when there is none."""
    bands = phash_bands(phash)
    if bands[0] is None:
        return None
    any_band_equal = Q()
    for field, value in zip(PHASH_BAND_FIELDS, bands, strict=True):
        any_band_equal |= Q(**{field: value})
    candidates = ScrapedImage.objects.filter(any_band_equal, genre_id=genre_id)
    if exclude_id is not None:
        candidates = candidates.exclude(pk=exclude_id)
    target = int(phash, 16)
    best: tuple[int, int] | None = None
    for image_id, other in candidates.order_by("id").values_list("id", "phash")[
        :MAX_NEAR_DUPLICATE_CANDIDATES
    ]:
        distance = (target ^ int(other, 16)).bit_count()
        if distance <= NEAR_DUPLICATE_DISTANCE and (best is None or distance < best[1]):
            best = (image_id, distance)
    return best


def record_outcome(job_id: int | None, outcome: str, reason: str = "", detail: str = "") -> None:
    """Count one outcome (and ``outcome:reason``) on the job and log it.

    The row is locked for the read-modify-write, so concurrent pipelines never
    lose a count (PostgreSQL: row lock; SQLite: the IMMEDIATE transaction
    takes the write lock up front).
    """
    with transaction.atomic():
        _count(job_id, outcome, reason, detail)


def _count(job_id: int | None, outcome: str, reason: str, detail: str) -> None:
    if job_id is None:
        return
    key = f"{outcome}:{reason}" if reason else outcome
    job = CrawlJob.objects.select_for_update().only("counts", "log_tail").get(pk=job_id)
    counts = dict(job.counts)
    counts[outcome] = counts.get(outcome, 0) + 1
    if reason:
        counts[key] = counts.get(key, 0) + 1
    job.counts = counts
    # The log is read by staff: the outcome's words ("rejected: incomplete image file"), in the
    # deployment's language, not the counter's key.
    with translation.override(settings.LANGUAGE_CODE):
        label = outcome_label(key)
    job.log_tail = _append(job.log_tail, f"{label} {detail}".rstrip())
    job.save(update_fields=["counts", "log_tail"])


def append_log(job_id: int, line: str) -> None:
    """Add a line to the job's log tail (keeps the last LOG_TAIL_LINES)."""
    with transaction.atomic():
        job = CrawlJob.objects.select_for_update().only("log_tail").get(pk=job_id)
        job.log_tail = _append(job.log_tail, line)
        job.save(update_fields=["log_tail"])


def _append(log_tail: str, line: str) -> str:
    stamp = timezone.now().strftime("%Y-%m-%d %H:%M:%S")
    lines = [*log_tail.splitlines(), f"{stamp} {line}"]
    return "\n".join(lines[-LOG_TAIL_LINES:])


def _genre_for(job_id: int | None, record: Record) -> Genre:
    slug = record.genre
    if slug:
        genre = Genre.objects.filter(slug=slug).first()
        if genre is not None:
            return genre
    if job_id is not None:
        return CrawlJob.objects.select_related("genre").get(pk=job_id).genre
    raise ValueError(f"Item {record.source_id!r} names no known genre ({slug!r}) and has no crawl job.")
