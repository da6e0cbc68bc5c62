"""Frozen datasets: which approved images of a genre a run learns from, and
their packed file in checkpoint storage.

The start service snapshots a dataset; the worker packs it (see
``training.runner``). Kept apart from ``training.services`` so the runner can
pack without importing the services that queue it.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils.translation import gettext as _

from gallery.models import Genre
from scraper.models import ScrapedImage

from .models import Dataset, DatasetClass, checkpoint_storage


def approved_images(genre: Genre):
    return ScrapedImage.objects.filter(genre=genre, status=ScrapedImage.Status.APPROVED)


def too_few_images(genre: Genre, count: int) -> ValidationError:
    """The refusal of a run on a genre with fewer approved images than a run needs."""
    return ValidationError(
        _(
            "%(genre)s has only %(count)d approved images; a training run needs at least %(minimum)d. "
            "Approve more images in the curation queue first."
        ),
        params={"genre": genre.display_name, "count": count, "minimum": settings.TRAINING_MIN_IMAGES},
        code="too_few_images",
    )


def snapshot_dataset(genre: Genre, resolution: int, classes: Sequence[Genre] = ()) -> Dataset:
    """Record which approved images of ``genre`` a new dataset holds (packing
    happens on the worker, see :func:`pack_dataset`). ``classes`` (two or more
    genres, ``genre`` first) make a class-conditional dataset of all their
    images, labelled by their genre's place in that list."""
    if classes and (len(classes) < 2 or classes[0].pk != genre.pk):
        raise ValueError("A class-conditional dataset needs two or more genres, the run's genre first.")
    images: list[int] = []
    for each in classes or [genre]:
        found = list(approved_images(each).values_list("pk", flat=True))
        if len(found) < settings.TRAINING_MIN_IMAGES:
            raise too_few_images(each, len(found))
        images += found
    dataset = Dataset.objects.create(genre=genre, resolution=resolution, image_count=len(images))
    dataset.images.set(images)
    DatasetClass.objects.bulk_create(
        DatasetClass(dataset=dataset, index=index, genre=each) for index, each in enumerate(classes)
    )
    return dataset


def pack_dataset(dataset: Dataset, progress: Callable[[int, int], None] | None = None) -> Dataset:
    """Pack the dataset's images with the engine into checkpoint storage and
    record its hash. Images whose file is gone or unreadable are skipped and
    listed in ``dataset.skipped``."""
    from training.engine.dataset import pack_images

    if dataset.packed_file:
        return dataset
    with tempfile.TemporaryDirectory(prefix=f"dataset-{dataset.pk}-") as tmp:
        folder = Path(tmp)
        paths: list[Path] = []
        skipped: list[list[str]] = []
        # A class-conditional dataset labels each image by its genre's class.
        label_of = {c.genre_id: c.index for c in dataset.classes.all()}
        labels: list[int] = []
        for image in dataset.images.order_by("pk"):
            if label_of and image.genre_id not in label_of:
                skipped.append([image.image.name, "moved to a genre outside this run since it started"])
                continue
            local = folder / f"{image.pk:09d}{Path(image.image.name).suffix}"
            try:
                with image.image.open("rb") as src, open(local, "wb") as dst:
                    shutil.copyfileobj(src, dst)
            except (FileNotFoundError, OSError) as exc:
                skipped.append([image.image.name, f"cannot read the stored file: {exc}"])
                continue
            paths.append(local)
            if label_of:
                labels.append(label_of[image.genre_id])
        if not paths:
            raise ValueError(
                f"Dataset {dataset.pk}: none of its {dataset.image_count} image files could be read from "
                "storage. Check the media storage, then start a new run."
            )
        out = folder / "dataset.pack"
        report = pack_images(
            paths,
            out,
            resolution=dataset.resolution,
            progress=progress,
            labels=labels or None,
            num_classes=len(label_of) or None,
        )
        names = {str(p): p.name for p in paths}
        skipped += [[names.get(path, path), reason] for path, reason in report.skipped]
        # Named by content: the same images packed again reuse the stored file.
        slugs = "+".join(g.slug for g in dataset.class_genres()) or dataset.genre.slug
        stored = f"datasets/{slugs}-{dataset.resolution}px-{report.sha256}.pack"
        storage = checkpoint_storage()
        if not storage.exists(stored):
            with open(out, "rb") as fh:
                stored = storage.save(stored, File(fh))
    dataset.packed_file.name = stored
    dataset.sha256 = report.sha256
    dataset.image_count = report.count
    dataset.skipped = skipped
    dataset.save(update_fields=["packed_file", "sha256", "image_count", "skipped"])
    return dataset


def freeze_dataset(genre: Genre, resolution: int) -> Dataset:
    """Snapshot ``genre``'s approved images and pack them now."""
    return pack_dataset(snapshot_dataset(genre, resolution))
