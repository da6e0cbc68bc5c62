"""Curators' decisions on scraped images: approve, reject, and what to look at next."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scraper.models import ScrapedImage

REJECTION_REASONS = [
    ("not_a_painting", _("Not a painting (photo, object, drawing, print)")),
    ("wrong_genre", _("Wrong genre")),
    ("poor_quality", _("Poor quality (blurry, dark, damaged)")),
    ("duplicate", _("Duplicate of another image")),
    ("frame_or_text", _("Frame, text or watermark in the picture")),
    ("fragment", _("Detail or fragment of a painting")),
    ("other", _("Other")),
]
QUALITY_HINTS = [
    ("too_small", _("too small")),
    ("odd_aspect", _("odd aspect ratio")),
    ("very_dark", _("very dark")),
    ("very_light", _("very light")),
    ("low_information", _("low information")),
    ("blurry", _("blurry")),
]
HINT_LABELS = dict(QUALITY_HINTS)
REJECTION_REASON_CODES = [code for code, _label in REJECTION_REASONS]


def _require_reviewer(user: AbstractBaseUser | AnonymousUser) -> None:
    if not user.has_perm("scraper.review_images"):
        raise PermissionDenied(f"{user} may not review images (needs the scraper.review_images permission).")


def _as_queryset(images: QuerySet[ScrapedImage] | Iterable[int]) -> QuerySet[ScrapedImage]:
    if isinstance(images, QuerySet):
        return images
    return ScrapedImage.objects.filter(pk__in=list(images))


def approve_images(images: QuerySet[ScrapedImage] | Iterable[int], user: AbstractBaseUser) -> int:
    """Approve the images (whatever their status); returns how many."""
    _require_reviewer(user)
    rows = _as_queryset(images).update(
        status=ScrapedImage.Status.APPROVED, reviewed_by=user, reviewed_at=timezone.now(), rejection_reason=""
    )
    _retire_pages(rows)
    return rows


def reject_images(
    images: QuerySet[ScrapedImage] | Iterable[int], user: AbstractBaseUser, reason: str, note: str = ""
) -> int:
    """Reject the images with a reason code (see REJECTION_REASONS) and an optional note."""
    _require_reviewer(user)
    if reason not in REJECTION_REASON_CODES:
        raise ValueError(
            f"Unknown rejection reason {reason!r}; choose one of {', '.join(REJECTION_REASON_CODES)}."
        )
    text = f"{reason}: {note.strip()}" if note.strip() else reason
    rows = _as_queryset(images).update(
        status=ScrapedImage.Status.REJECTED,
        reviewed_by=user,
        reviewed_at=timezone.now(),
        rejection_reason=text[:300],
    )
    _retire_pages(rows)
    return rows


def _retire_pages(rows: int) -> None:
    """An artwork's page shows its nearest training painting only while that
    image is approved: a review changes public pages, so the page cache is retired."""
    from gallery.pagecache import visible_change

    if rows:
        visible_change()


def pending_images(genre_slug: str | None = None) -> QuerySet[ScrapedImage]:
    images = ScrapedImage.objects.filter(status=ScrapedImage.Status.PENDING)
    if genre_slug:
        images = images.filter(genre__slug=genre_slug)
    return images.order_by("id")


def next_pending(genre_slug: str | None = None, after_id: int | None = None) -> ScrapedImage | None:
    """The next pending image after ``after_id`` (skipped ones come round
    again once the end of the queue is reached)."""
    images = pending_images(genre_slug).select_related("genre", "job", "near_duplicate_of")
    if after_id is not None:
        later = images.filter(id__gt=after_id).first()
        if later is not None:
            return later
    return images.first()
