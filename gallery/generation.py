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
from collections.abc import Iterator, Sequence
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import IntegrityError, models, transaction
from django.db.models import Max, Q

from training.models import Checkpoint

from .models import Artwork, MixingExhibit
from .thumbnails import BandImages, save_artwork_image, save_exhibit_images

logger = logging.getLogger(__name__)

SEED_RETRIES = 3
MAX_SEED = 2**31 - 1


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


def next_seeds(checkpoint: Checkpoint, count: int) -> list[int]:
    """``count`` seeds never used with ``checkpoint``: above the highest used."""
    highest = Artwork.objects.filter(checkpoint=checkpoint).aggregate(top=Max("seed"))["top"]
    start = 0 if highest is None else highest + 1
    return list(range(start, start + count))


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


def _save_batch(
    checkpoint: Checkpoint,
    seeds: Sequence[int],
    images,
    psi: float,
    truncation_cutoff: int | None,
    noise_mode: str,
) -> list[Artwork]:
    """All rows and files of one batch, or none of them."""
    touched: list[Artwork] = []
    try:
        with transaction.atomic():
            for seed, image in zip(seeds, images, strict=True):
                artwork = Artwork(
                    genre_id=checkpoint.run.genre_id,
                    checkpoint=checkpoint,
                    seed=seed,
                    psi=psi,
                    truncation_cutoff=truncation_cutoff,
                    noise_mode=noise_mode,
                    published=checkpoint.published,
                )
                touched.append(artwork)
                save_artwork_image(artwork, image)
    except BaseException:
        _delete_unreferenced(set().union(*(_stored_names(a) for a in touched)) if touched else set())
        raise
    return touched


def generate_artworks(
    checkpoint: Checkpoint,
    count: int,
    psi: float = 0.7,
    truncation_cutoff: int | None = None,
    noise_mode: str = "const",
) -> list[Artwork]:
    """Paint ``count`` new artworks with ``checkpoint`` on new seeds, each
    recording how to paint it again. Artworks of a published checkpoint are
    published; others stay a preview in the admin."""
    from training.engine.generate import generate_images

    if count < 1:
        raise ValueError(f"count={count} must be at least 1.")
    checkpoint = Checkpoint.objects.select_related("run").get(pk=checkpoint.pk)
    G, device = load_checkpoint_generator(checkpoint)
    for _attempt in range(SEED_RETRIES):
        seeds = next_seeds(checkpoint, count)
        images = generate_images(
            G, seeds, psi=psi, truncation_cutoff=truncation_cutoff, noise_mode=noise_mode, device=device
        )
        try:
            artworks = _save_batch(checkpoint, seeds, images, psi, truncation_cutoff, noise_mode)
        except IntegrityError:
            # Another batch for this checkpoint took some of these seeds meanwhile.
            logger.warning(
                "Seeds %s..%s of checkpoint %s were taken; choosing new ones.",
                seeds[0],
                seeds[-1],
                checkpoint.pk,
            )
            continue
        logger.info(
            "Painted %d artworks from checkpoint %s (seeds %s..%s)", count, checkpoint.pk, seeds[0], seeds[-1]
        )
        return artworks
    raise RuntimeError(
        f"Could not find {count} free seeds for checkpoint {checkpoint.pk} after {SEED_RETRIES} tries: "
        "other batches keep taking them; try again when they have finished."
    )


def build_mixing_exhibit(
    checkpoint: Checkpoint, rows: int, columns: int, psi: float = 0.7, noise_mode: str = "const"
) -> MixingExhibit:
    """A style-mixing exhibit (StyleGAN paper, Fig. 3): ``rows`` sources A,
    ``columns`` sources B, and a coarse, a middle and a fine grid."""
    from training.engine.generate import mixing_figure, style_bands, style_mix_bands

    if rows < 1 or columns < 1:
        raise ValueError(f"rows={rows} and columns={columns} must both be at least 1.")
    checkpoint = Checkpoint.objects.select_related("run").get(pk=checkpoint.pk)
    G, device = load_checkpoint_generator(checkpoint)
    seeds = random.SystemRandom().sample(range(MAX_SEED), rows + columns)
    row_seeds, col_seeds = seeds[:rows], seeds[rows:]
    band_layers = style_bands(G.synthesis.num_ws)
    results = style_mix_bands(
        G, row_seeds, col_seeds, list(band_layers), psi=psi, noise_mode=noise_mode, device=device
    )
    bands = [
        BandImages(
            band=result.band, layers=band_layers[result.band], cells=result.grid, figure=mixing_figure(result)
        )
        for result in results
    ]
    result = results[0]
    with transaction.atomic():
        exhibit = MixingExhibit.objects.create(
            genre_id=checkpoint.run.genre_id,
            checkpoint=checkpoint,
            row_seeds=row_seeds,
            col_seeds=col_seeds,
            psi=psi,
            noise_mode=noise_mode,
            published=checkpoint.published,
        )
        save_exhibit_images(exhibit, result.rows, result.cols, bands)
    return exhibit
