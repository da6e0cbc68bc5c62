"""Painting the rooms from a checkpoint: new artworks and style-mixing exhibits.

Called by ``gallery.tasks`` on a GPU worker. torch and the engine are imported
inside the functions: the web process and the worker's parent never load them.
"""

from __future__ import annotations

import contextlib
import logging
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Q

from training.models import Checkpoint

from .mixing import (
    MAX_POOL,
    POOL_FACTOR,
    farthest_apart,
    feature_change,
    glance_distance,
    measure_band,
    most_unlike,
    split_sources,
    typical_nearest,
)
from .models import Artwork, MixingExhibit
from .room_guards import (
    Hanging,
    Nearest,
    TrainingCollection,
    distances,
    genre_guard,
    nearest_training_images,
    room_paintings,
    to_bytes,
    training_collection,
)
from .thumbnails import BandImages, save_artwork_image, save_exhibit_images

logger = logging.getLogger(__name__)

SEED_RETRIES = 3
# The variety guard draws at most this many seeds per painting asked for (one
# more than the pool when the pool is larger, and at least MIN_EXTRA_DRAWS more
# than asked) before it gives up.
DRAW_FACTOR = 4
MIN_EXTRA_DRAWS = 8
MAX_SEED = 2**31 - 1
# A batch keeps the paintings of its pool in memory while it chooses as long as
# all it may draw fit in POOL_IMAGE_BYTES (any demo room; 1000 paintings at
# 256 px). A larger pool (1000 paintings at 512 px would be 2.4 GB, at 1024 px
# 9.4 GB) keeps only each seed's features and nearest training image, and paints
# the seeds it hangs again at the end: a seed paints the same pixels whatever is
# painted beside it (``generate_images``), so the batch saves what it would
# have saved, for at most 1/pool more painting.
POOL_IMAGE_BYTES = 1 << 30
PAINT_CHUNK = 64  # seeds painted and embedded at a time


@contextlib.contextmanager
def checkpoint_file(checkpoint: Checkpoint) -> Iterator[Path]:
    """The checkpoint as a local file: in place on local storage, else a
    verified temporary copy (S3)."""
    from training.engine.dataset import file_sha256

    storage = checkpoint.file.storage
    try:
        yield Path(storage.path(checkpoint.file.name))
        return
    except NotImplementedError:
        pass
    with tempfile.TemporaryDirectory(prefix=f"checkpoint-{checkpoint.pk}-") as tmp:
        local = Path(tmp) / Path(checkpoint.file.name).name
        with checkpoint.file.open("rb") as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        if file_sha256(local) != checkpoint.sha256:
            raise ValueError(
                f"Checkpoint {checkpoint.pk} ({checkpoint.file.name}) does not match its recorded SHA-256; "
                "it was changed or damaged in storage. Publish another checkpoint."
            )
        yield local


def load_checkpoint_generator(checkpoint: Checkpoint):
    """The checkpoint's EMA generator on the worker's torch device."""
    from training.engine.checkpoint import load_generator
    from training.engine.loop import resolve_device

    device = resolve_device(settings.TORCH_DEVICE)
    with checkpoint_file(checkpoint) as path:
        return load_generator(path, device=device), device


def next_seed(genre_id: int) -> int:
    """The room's next seed: above the highest ever used in the room, by any
    checkpoint, so a room never shows two paintings of one seed."""
    highest = Artwork.objects.filter(genre_id=genre_id).aggregate(top=Max("seed"))["top"]
    return 0 if highest is None else highest + 1


@dataclass(frozen=True)
class Room:
    """Where a batch hangs and which class of the model paints it."""

    genre_id: int
    name: str
    class_idx: int | None  # None: an unconditional model
    published: bool  # the checkpoint paints this room now: its paintings go on show

    @classmethod
    def of(cls, checkpoint: Checkpoint, genre=None) -> Room:
        from .services import paints_room

        genre = genre or checkpoint.run.genre
        return cls(
            genre_id=genre.pk,
            name=genre.name,
            class_idx=checkpoint.run.class_index(genre),
            published=checkpoint.published and paints_room(checkpoint, genre),
        )


def _stored_names(artwork: Artwork) -> set[str]:
    return {
        getattr(artwork, field.name).name
        for field in artwork._meta.get_fields()
        if isinstance(field, models.FileField) and getattr(artwork, field.name)
    }


def _delete_unreferenced(names: set[str]) -> None:
    """Remove files a failed batch wrote, unless a saved artwork uses the same
    bytes (names are content hashes, so two paintings can share one)."""
    for name in names:
        in_use = Artwork.objects.filter(
            Q(image=name)
            | Q(thumb_small_webp=name)
            | Q(thumb_small_jpeg=name)
            | Q(thumb_large_webp=name)
            | Q(thumb_large_jpeg=name)
        ).exists()
        if not in_use and default_storage.exists(name):
            default_storage.delete(name)


@dataclass
class Candidate:
    """A painting the guards looked at, with what they found."""

    seed: int
    image: np.ndarray | None  # None: not kept (a large pool); painted again if it is saved
    features: np.ndarray
    glance: np.ndarray  # an 8x8 colour thumbnail: the painting from across the room
    nearest: Nearest
    withheld_reason: str = ""


class NotEnoughDistinctPaintings(RuntimeError):
    """The model keeps painting near duplicates: the room got fewer than asked."""


def _save_batch(
    checkpoint: Checkpoint,
    room: Room,
    candidates: Sequence[Candidate],
    psi: float,
    truncation_cutoff: int | None,
    noise_mode: str,
    before_saving: Callable[[], None] | None = None,
) -> list[Artwork]:
    """All rows and files of one batch, or none of them."""
    touched: list[Artwork] = []
    try:
        with transaction.atomic():
            if before_saving is not None:
                before_saving()
            for candidate in candidates:
                artwork = Artwork(
                    genre_id=room.genre_id,
                    checkpoint=checkpoint,
                    seed=candidate.seed,
                    psi=psi,
                    truncation_cutoff=truncation_cutoff,
                    noise_mode=noise_mode,
                    published=room.published and not candidate.withheld_reason,
                    withheld_reason=candidate.withheld_reason,
                    nearest_training_image_id=candidate.nearest.image_id,
                    nearest_training_distance=candidate.nearest.distance,
                    features=to_bytes(candidate.features),
                    glance=to_bytes(candidate.glance),
                )
                touched.append(artwork)
                save_artwork_image(artwork, candidate.image)
    except BaseException:
        _delete_unreferenced(set().union(*(_stored_names(a) for a in touched)) if touched else set())
        raise
    return touched


def _copy_reason(nearest: Nearest, threshold: float) -> str:
    return (
        f"a near copy of training image {nearest.image_id}: distance {nearest.distance:.4f} is below "
        f"{threshold:.4f}, the closest two distinct images of its collection"
    )


def _choose(
    spare: Sequence[Candidate], hanging: Hanging, count: int, collection: TrainingCollection, farthest: bool
) -> list[Candidate]:
    """At most ``count`` of ``spare`` that are no near duplicate of the room
    (``hanging``) or of each other, chosen by :func:`most_unlike`: in seed
    order, or, ``farthest``, the most unlike paintings of the pool, unlike by
    features and at a glance (:func:`glance_distance`)."""
    if not spare:
        return []
    vectors = np.stack([c.features for c in spare])
    glances = np.stack([c.glance for c in spare])

    def unlike(features: np.ndarray, glance: np.ndarray) -> np.ndarray:
        return glance_distance(
            distances(vectors, features),
            distances(glances, glance),
            collection.feature_scale,
            collection.glance_scale,
        )

    among = distances(vectors, vectors)
    if len(hanging.features):
        nearest = distances(vectors, hanging.features).min(axis=1)
        rank_nearest = unlike(hanging.features, hanging.glances).min(axis=1)
    else:
        nearest = rank_nearest = np.full(len(spare), np.inf)
    rank = (rank_nearest, unlike(vectors, glances))
    picks = most_unlike(nearest, among, count, collection.duplicate_threshold, farthest, rank=rank)
    return [spare[i] for i in picks]


def _paint_guarded(
    checkpoint: Checkpoint,
    room: Room,
    G,
    device,
    count: int,
    psi: float,
    truncation_cutoff: int | None,
    noise_mode: str,
    pool: int,
) -> tuple[list[Candidate], int, dict[str, int]]:
    """Paint ``pool`` seeds per painting asked for, and hang the ``count``
    most unlike each other and the room (``pool`` 1: the first that are
    distinct, in seed order). Near duplicates of the room or of the batch,
    and paintings that look more like another room than any of this room's
    collection does, never hang; copies of the training collection are kept
    but withheld. While fewer than ``count`` may hang, more seeds are drawn,
    up to the draw limit. A pool larger than ``POOL_IMAGE_BYTES`` keeps features only and paints the
    seeds it saves again. Returns the paintings to save, how many seeds were
    drawn, and how many looked like each other room."""
    from training.engine.features import embed_uint8, glance_uint8, picture_array
    from training.engine.generate import generate_images

    collection = training_collection(checkpoint)
    genres = genre_guard(room.genre_id)
    hanging = room_paintings(room.genre_id)
    limit = max(max(DRAW_FACTOR, pool + 1) * count, count + MIN_EXTRA_DRAWS)
    image_bytes = 3 * G.img_resolution**2
    keep = limit * image_bytes <= POOL_IMAGE_BYTES
    chunk = max(1, min(PAINT_CHUNK, POOL_IMAGE_BYTES // image_bytes))

    def paint(seeds: list[int]) -> Iterator[tuple[list[int], np.ndarray]]:
        for start in range(0, len(seeds), chunk):
            part = seeds[start : start + chunk]
            yield (
                part,
                generate_images(
                    G,
                    part,
                    psi=psi,
                    truncation_cutoff=truncation_cutoff,
                    noise_mode=noise_mode,
                    device=device,
                    class_idx=room.class_idx,
                ),
            )

    seed = next_seed(room.genre_id)
    withheld: list[Candidate] = []
    spare: list[Candidate] = []
    chosen: list[Candidate] = []
    off_genre: dict[str, int] = {}  # seeds not hung: the room each looked like
    drawn = 0
    while len(chosen) < count and drawn < limit:
        seeds = list(range(seed, seed + min(max(pool * count - drawn, count - len(chosen)), limit - drawn)))
        seed += len(seeds)
        drawn += len(seeds)
        for part, images in paint(seeds):
            # Sized to 64 px as the stored training images and room paintings are.
            pictures = np.stack([picture_array(image) for image in images])
            features = embed_uint8(pictures).numpy()
            glances = glance_uint8(pictures).numpy()
            looks_like = genres.other_rooms(features) if genres else [None] * len(part)
            nearest_images = nearest_training_images(features, collection)
            for s, image, vector, glance, nearest, other_room in zip(
                part, images, features, glances, nearest_images, looks_like, strict=True
            ):
                kept = image if keep else None
                if nearest.distance < collection.copy_threshold:
                    reason = _copy_reason(nearest, collection.copy_threshold)
                    withheld.append(Candidate(s, kept, vector, glance, nearest, reason))
                elif other_room is not None:
                    off_genre[other_room] = off_genre.get(other_room, 0) + 1
                else:
                    spare.append(Candidate(s, kept, vector, glance, nearest))
        chosen = _choose(spare, hanging, count, collection, farthest=pool > 1)
    saved = sorted(withheld + chosen, key=lambda c: c.seed)
    by_seed = {c.seed: c for c in saved if c.image is None}
    for part, images in paint(list(by_seed)):
        for s, image in zip(part, images, strict=True):
            by_seed[s].image = image
    return saved, drawn, off_genre


def generate_artworks(
    checkpoint: Checkpoint,
    count: int,
    psi: float = 0.7,
    truncation_cutoff: int | None = None,
    noise_mode: str = "const",
    genre=None,
    before_saving: Callable[[], None] | None = None,
    pool: int | None = None,
) -> list[Artwork]:
    """Paint ``count`` new artworks with ``checkpoint`` on the next seeds of
    ``genre``'s room (default: its run's genre; a class-conditional model
    paints it with that room's class), each recording how to paint it again and its nearest training
    image. Artworks of a published checkpoint are published, except copies of
    a training image (withheld); others stay a preview in the admin. Raises
    :class:`NotEnoughDistinctPaintings` (after saving the distinct ones) when
    the model cannot paint ``count`` paintings unlike the room's.

    ``pool`` (default ``settings.GALLERY_HANG_POOL``) seeds are painted per
    artwork asked for and the most unlike each other and the room hang; the
    others are not saved (copies of training images are, withheld): those
    below the batch's highest saved seed are skipped for good, those above it
    are painted again by the room's next batch. Pool 1 hangs the next seeds in
    order, skipping only near duplicates.

    ``before_saving`` runs inside the transaction that saves the batch, before
    any row or file is written; an exception from it saves nothing (a painting
    request's worker checks there that the request is still its own)."""
    if count < 1:
        raise ValueError(f"count={count} must be at least 1.")
    pool = settings.GALLERY_HANG_POOL if pool is None else pool
    if pool < 1:
        raise ValueError(f"pool={pool} must be at least 1 (seeds painted per artwork hung).")
    checkpoint = Checkpoint.objects.select_related("run", "run__genre").get(pk=checkpoint.pk)
    room = Room.of(checkpoint, genre)
    G, device = load_checkpoint_generator(checkpoint)
    for _attempt in range(SEED_RETRIES):
        candidates, drawn, off_genre = _paint_guarded(
            checkpoint, room, G, device, count, psi, truncation_cutoff, noise_mode, pool
        )
        try:
            artworks = _save_batch(
                checkpoint, room, candidates, psi, truncation_cutoff, noise_mode, before_saving
            )
        except IntegrityError:
            # Another batch for this room took some of these seeds meanwhile.
            logger.warning("Seeds of room %s were taken meanwhile; choosing new ones.", room.genre_id)
            continue
        break
    else:
        raise RuntimeError(
            f"Could not find {count} free seeds for checkpoint {checkpoint.pk} after {SEED_RETRIES} tries: "
            "other batches keep taking them; try again when they have finished."
        )
    hung = [a for a in artworks if not a.withheld_reason]
    withheld = len(artworks) - len(hung)
    looked_like = ", ".join(f"{n} like the {name} room" for name, n in sorted(off_genre.items()))
    logger.info(
        "Painted %d artworks from checkpoint %s (%d seeds drawn, %d withheld as copies, not hung as "
        "looking like another room: %s)",
        len(hung),
        checkpoint.pk,
        drawn,
        withheld,
        looked_like or "none",
    )
    if len(hung) < count:
        off = sum(off_genre.values())
        raise NotEnoughDistinctPaintings(
            f"Checkpoint {checkpoint} painted only {len(hung)} of {count} paintings distinct enough for the "
            f"{room.name} room in {drawn} tries: "
            + (
                f"{off} looked more like another room than any image of its collection does ({looked_like}); "
                if off
                else ""
            )
            + (
                "the others were near duplicates of paintings already there or of each other"
                + (f", or copies of training images ({withheld} withheld)" if withheld else "")
                if drawn > len(hung) + off
                else "none was a near duplicate"
            )
            + ". The model has collapsed, memorised its collection or paints another genre: train it further "
            "or publish another checkpoint."
        )
    return artworks


def build_mixing_exhibit(
    checkpoint: Checkpoint,
    rows: int,
    columns: int,
    psi: float = 0.7,
    noise_mode: str = "const",
    rng: random.Random | None = None,
    genre=None,
    truncation_cutoff: int | None = None,
    before_saving: Callable[[], None] | None = None,
) -> MixingExhibit:
    """A style-mixing exhibit (StyleGAN paper, Fig. 3): ``rows`` sources A,
    ``columns`` sources B, and a coarse, a middle and a fine grid. The sources
    are the farthest apart of a pool of candidates (by :func:`glance_distance`,
    as a room's batch, in units of the pool's own; those the genre guard keeps
    off the room's walls left out while enough remain), so rows and columns
    differ visibly; what each band did is
    measured and kept for the page's text. It hangs in ``genre``'s room
    (default: the run's genre), painted with that room's class. ``psi`` truncates
    the sources' first ``truncation_cutoff`` ws (all when None), as ``generate_artworks``;
    ``before_saving`` too."""
    from training.engine.features import embed_uint8, glance_uint8, pairwise_distances, picture_array
    from training.engine.generate import generate_images, mixing_figure, style_bands, style_mix_bands

    if rows < 1 or columns < 1:
        raise ValueError(f"rows={rows} and columns={columns} must both be at least 1.")
    checkpoint = Checkpoint.objects.select_related("run", "run__genre").get(pk=checkpoint.pk)
    room = Room.of(checkpoint, genre)
    G, device = load_checkpoint_generator(checkpoint)
    wanted = rows + columns
    pool = (rng or random.SystemRandom()).sample(range(MAX_SEED), min(MAX_POOL, POOL_FACTOR * wanted))
    pool_pictures = np.stack(
        [
            picture_array(image)
            for image in generate_images(
                G,
                pool,
                psi=psi,
                truncation_cutoff=truncation_cutoff,
                noise_mode=noise_mode,
                device=device,
                class_idx=room.class_idx,
            )
        ]
    )
    pool_features, pool_glances = embed_uint8(pool_pictures), glance_uint8(pool_pictures)
    genres = genre_guard(room.genre_id)
    if genres is not None:
        # Sources that look like another room are left out, as they are off the
        # room's walls, while enough are left; otherwise the exhibit shows what
        # the model paints.
        fits = [i for i, other in enumerate(genres.other_rooms(pool_features.numpy())) if other is None]
        if len(fits) >= wanted:
            pool, pool_features, pool_glances = (
                [pool[i] for i in fits],
                pool_features[fits],
                pool_glances[fits],
            )
    # Far apart by features and at a glance, each in units of the pool's own
    # typical nearest-neighbour distance (an exhibit needs no collection).
    features_apart = pairwise_distances(pool_features, pool_features).numpy()
    glances_apart = pairwise_distances(pool_glances, pool_glances).numpy()
    unlike = glance_distance(
        features_apart, glances_apart, typical_nearest(features_apart), typical_nearest(glances_apart)
    )
    chosen = farthest_apart(unlike, wanted)
    row_picks, col_picks = split_sources(chosen, rows, columns)
    row_seeds, col_seeds = [pool[i] for i in row_picks], [pool[i] for i in col_picks]
    band_layers = style_bands(G.synthesis.num_ws)
    results = style_mix_bands(
        G,
        row_seeds,
        col_seeds,
        list(band_layers),
        psi=psi,
        noise_mode=noise_mode,
        device=device,
        class_idx=room.class_idx,
        truncation_cutoff=truncation_cutoff,
    )
    row_features = embed_uint8(results[0].rows).numpy()
    col_features = embed_uint8(results[0].cols).numpy()
    measures = {}
    for result in results:
        cells = (
            embed_uint8(result.grid.reshape(-1, *result.grid.shape[2:])).numpy().reshape(rows, columns, -1)
        )
        change = feature_change(row_features, col_features, cells)
        measures[result.band] = measure_band(result.rows, result.cols, result.grid, change)
    bands = [
        BandImages(
            band=result.band, layers=band_layers[result.band], cells=result.grid, figure=mixing_figure(result)
        )
        for result in results
    ]
    result = results[0]
    with transaction.atomic():
        if before_saving is not None:
            before_saving()
        exhibit = MixingExhibit.objects.create(
            genre_id=room.genre_id,
            checkpoint=checkpoint,
            row_seeds=row_seeds,
            col_seeds=col_seeds,
            psi=psi,
            truncation_cutoff=truncation_cutoff,
            noise_mode=noise_mode,
            band_measures=measures,
            published=room.published,
        )
        save_exhibit_images(exhibit, result.rows, result.cols, bands)
    return exhibit
