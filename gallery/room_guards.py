"""What may hang in a room: the variety and memorisation guards of the
generation task, in the quality report's feature space.

- *Variety*: a new painting closer to one already in its room (or to another
  of its batch) than the closest pair of distinct images of the training
  collection is a near duplicate, and is not hung.
- *Memorisation*: every painting records its nearest image in the training
  collection; one closer to it (or its mirror image) than any two training
  images are to each other copies it and is withheld.
- *Genre*: a painting that looks more like another room than any approved
  image of its own room does is not hung (``gallery/genre_guard.py``).

A batch that paints a pool hangs the paintings most unlike each other and the
room by ``gallery.mixing.glance_distance``: the feature distance, or, where it
is smaller, how alike two paintings look from across the room (their 8x8
colour thumbnails, ``Artwork.glance``), each in units of the collection's
typical nearest-neighbour distance (``feature_scale``, ``glance_scale``).

The thresholds are the quality report's own (``near_duplicate_threshold``,
``training_features``), so a room is judged by the measure that judged its
checkpoint. torch and the engine are imported inside the functions: the web
process never loads them.
"""

from __future__ import annotations

import hashlib
import inspect
import io
import logging
from dataclasses import dataclass

import numpy as np
from django.core.files.base import ContentFile
from django.db.models import QuerySet
from PIL import Image

from scraper.models import ScrapedImage
from training.models import Checkpoint, checkpoint_storage

from .mixing import typical_nearest
from .models import Artwork

logger = logging.getLogger(__name__)

# Feature vectors are stored as float32 bytes (Artwork.features, the collection cache).
FEATURE_DTYPE = np.float32


@dataclass
class TrainingCollection:
    """The images a checkpoint learned from, as feature vectors, and the two
    distances of the quality report: ``copy_threshold`` (closer to a training
    image, or its mirror image, than any two of them are to each other is a
    copy) and ``duplicate_threshold`` (closer than the closest two distinct
    training images is the same painting twice)."""

    image_ids: list[int]
    features: np.ndarray  # float32 [2N, D]: the N images, then their mirror images
    copy_threshold: float
    duplicate_threshold: float
    # How far an image of the collection typically lies from its nearest other
    # (the median), in the feature space and at a glance (8x8 colour thumbnails).
    feature_scale: float
    glance_scale: float


@dataclass
class Nearest:
    image_id: int
    distance: float


def training_images(checkpoint: Checkpoint) -> QuerySet[ScrapedImage]:
    """The collection the checkpoint's run learned from: its frozen dataset
    (every image it trained on, even one a curator rejected since), or, for a
    run registered without one (a shipped demo model trained on the room's
    collection), the room's approved images."""
    run = checkpoint.run
    if run.dataset_id is not None:
        return run.dataset.images.order_by("pk")
    return ScrapedImage.objects.filter(genre_id=run.genre_id, status=ScrapedImage.Status.APPROVED).order_by(
        "pk"
    )


# What a cached collection holds (TrainingCollection's fields but its ids).
CACHED_FIELDS = ("features", "copy_threshold", "duplicate_threshold", "feature_scale", "glance_scale")


def _features_version() -> str:
    """Changes whenever the feature code or what the cache holds does, so a
    cached collection is never compared with paintings embedded by different
    code, nor read without a field it now needs."""
    from training.engine import features

    source = inspect.getsource(features) + ",".join(CACHED_FIELDS)
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _cache_name(images: list[ScrapedImage]) -> str:
    digest = hashlib.sha256("".join(i.content_hash for i in images).encode()).hexdigest()
    return f"features/collection-{digest[:32]}-{_features_version()}.npz"


def _pictures(files) -> np.ndarray:
    """Stored image files as uint8 [N, 64, 64, 3], cropped and sized as the
    feature space compares them."""
    from training.engine.features import picture_array

    arrays = []
    for file in files:
        with file.open("rb") as fh, Image.open(io.BytesIO(fh.read())) as im:
            arrays.append(picture_array(im.convert("RGB")))
    return np.stack(arrays)


def training_collection(checkpoint: Checkpoint) -> TrainingCollection:
    """The checkpoint's training collection, embedded once per collection
    (and feature code) and cached in the private checkpoint storage."""
    images = list(training_images(checkpoint).only("pk", "content_hash", "image"))
    if len(images) < 2:
        raise ValueError(
            f"Checkpoint {checkpoint.pk}: its training collection holds {len(images)} image(s); the room "
            "guards need at least two to tell a copy or a near duplicate from a new painting. Publish a "
            "checkpoint of a run trained on a frozen dataset, or approve the room's images."
        )
    return _collection(images)


def _collection(images: list[ScrapedImage]) -> TrainingCollection:
    """``images`` (at least two) as a collection, embedded once per collection
    (and feature code) and cached in the private checkpoint storage."""
    import torch

    from training.engine.features import embed_uint8, glance_uint8
    from training.engine.quality import near_duplicate_threshold, training_features

    storage = checkpoint_storage()
    name = _cache_name(images)
    if storage.exists(name):
        with storage.open(name, "rb") as fh:
            stored = np.load(io.BytesIO(fh.read()))
            # Rows follow the images' order, which the cache's name encodes; the
            # ids are this database's (another database may hold the same images).
            return TrainingCollection(
                [image.pk for image in images],
                stored["features"],
                *(float(stored[field]) for field in CACHED_FIELDS[1:]),
            )
    pictures = _pictures([image.image for image in images])
    plain = embed_uint8(pictures)
    glances = glance_uint8(pictures).numpy()
    mirrored = embed_uint8(np.ascontiguousarray(pictures[:, :, ::-1]))
    collection = TrainingCollection(
        image_ids=[image.pk for image in images],
        features=torch.cat([plain, mirrored]).numpy().astype(FEATURE_DTYPE),
        # The report's own thresholds, computed by the report's own functions.
        copy_threshold=float(training_features(pictures)[1]),
        duplicate_threshold=float(near_duplicate_threshold(plain)),
        feature_scale=typical_nearest(distances(plain.numpy(), plain.numpy())),
        glance_scale=typical_nearest(distances(glances, glances)),
    )
    buffer = io.BytesIO()
    np.savez(buffer, **{field: getattr(collection, field) for field in CACHED_FIELDS})
    storage.save(name, ContentFile(buffer.getvalue()))
    return collection


# A room takes part in the genre guard with at least this many approved images.
# Its threshold is the highest genre ratio among them, so with n images at least
# 1/(n+1) of genuine paintings of its genre are refused (5 % at 20; more, since
# each image pulls the centre it is measured against towards itself: 0.8-10.2 %
# of unseen sample paintings at 40, bench/genre_guard_rate.py), and a centre of
# a few images says little of a genre.
GENRE_GUARD_MIN_IMAGES = 20


@dataclass
class GenreGuard:
    """The rooms' centres (the mean feature vector of each room's approved
    images) and the highest genre ratio of one room's own images."""

    names: list[str]  # each centre's room
    centres: np.ndarray  # [rooms, D]
    own: int  # the room painted
    threshold: float

    def other_rooms(self, features: np.ndarray) -> list[str | None]:
        """For each painting, the room it looks more like than any image of
        its own room's collection does (``None``: it may hang)."""
        from .genre_guard import genre_ratios

        ratios, nearest = genre_ratios(features, self.centres, self.own)
        return [self.names[j] if r > self.threshold else None for r, j in zip(ratios, nearest, strict=True)]


def genre_guard(genre_id: int) -> GenreGuard | None:
    """The genre guard of a room, or ``None`` while it has nothing to compare:
    the room, or every other room, holds fewer than ``GENRE_GUARD_MIN_IMAGES``
    approved images."""
    from .genre_guard import room_threshold
    from .models import Genre

    names: list[str] = []
    collections: list[TrainingCollection] = []
    own = None
    for genre in Genre.objects.order_by("pk"):
        images = list(
            ScrapedImage.objects.filter(genre=genre, status=ScrapedImage.Status.APPROVED)
            .order_by("pk")
            .only("pk", "content_hash", "image")
        )
        if len(images) < GENRE_GUARD_MIN_IMAGES:
            continue
        if genre.pk == genre_id:
            own = len(names)
        names.append(str(genre.name))
        collections.append(_collection(images))
    if own is None or len(names) < 2:
        return None
    # A collection's features: its images, then their mirror images.
    plain = [c.features[: len(c.image_ids)] for c in collections]
    centres = np.stack([p.mean(axis=0) for p in plain])
    return GenreGuard(names, centres, own, room_threshold(plain[own], centres, own))


def to_bytes(vector: np.ndarray) -> bytes:
    return np.asarray(vector, dtype=FEATURE_DTYPE).tobytes()


def from_bytes(data: bytes | memoryview) -> np.ndarray:
    return np.frombuffer(bytes(data), dtype=FEATURE_DTYPE)


@dataclass
class Hanging:
    """The paintings hanging in a room, as the guards compare them."""

    features: np.ndarray  # float32 [N, D]
    glances: np.ndarray  # float32 [N, 3 * THUMB * THUMB]


def room_paintings(genre_id: int) -> Hanging:
    """The feature vectors and glances of the paintings hanging in a room.
    Older paintings made before these were stored (or whose glance is of
    another size) are measured from their files once and their vectors saved."""
    from training.engine.features import THUMB, embed_uint8, feature_dim, glance_uint8

    hanging = Artwork.objects.published().filter(genre_id=genre_id, withheld_reason="")
    stored = list(hanging.values_list("pk", "features", "glance"))
    glance_bytes = np.dtype(FEATURE_DTYPE).itemsize * 3 * THUMB * THUMB
    missing = [
        pk
        for pk, features, glance in stored
        if features is None or glance is None or len(glance) != glance_bytes
    ]
    measured = {}
    if missing:
        arts = list(Artwork.objects.filter(pk__in=missing).only("pk", "image"))
        pictures = _pictures([art.image for art in arts])
        for art, vector, glance in zip(
            arts, embed_uint8(pictures).numpy(), glance_uint8(pictures).numpy(), strict=True
        ):
            Artwork.objects.filter(pk=art.pk).update(features=to_bytes(vector), glance=to_bytes(glance))
            measured[art.pk] = (vector, glance)
    pairs = [
        measured[pk] if pk in measured else (from_bytes(features), from_bytes(glance))
        for pk, features, glance in stored
    ]
    dim = feature_dim()
    kept = [pair for pair in pairs if pair[0].shape == (dim,)]
    if len(kept) != len(pairs):
        # Stored by an older feature space: compare only what this one measured.
        logger.warning(
            "Room %s: %d paintings carry features of another size", genre_id, len(pairs) - len(kept)
        )
    if not kept:
        return Hanging(np.zeros((0, dim), FEATURE_DTYPE), np.zeros((0, 3 * THUMB * THUMB), FEATURE_DTYPE))
    return Hanging(np.stack([f for f, _ in kept]), np.stack([g for _, g in kept]))


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distances [len(a), len(b)] in the feature space."""
    import torch

    from training.engine.features import pairwise_distances

    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)), dtype=FEATURE_DTYPE)
    return pairwise_distances(torch.from_numpy(np.asarray(a)), torch.from_numpy(np.asarray(b))).numpy()


def nearest_training_images(features: np.ndarray, collection: TrainingCollection) -> list[Nearest]:
    """Each painting's nearest training image (a mirror image counts as the image itself)."""
    d = distances(features, collection.features)
    n = len(collection.image_ids)
    return [
        Nearest(collection.image_ids[int(j) % n], float(row[j]))
        for row, j in zip(d, d.argmin(axis=1), strict=True)
    ]
