"""Painting artworks and mixing exhibits from a real (tiny) trained checkpoint."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from PIL import Image

from gallery.generation import build_mixing_exhibit, generate_artworks
from gallery.models import Artwork, Genre, MixingExhibit
from gallery.periodic import refresh_rooms
from gallery.thumbnails import encode, to_rgb_image
from training.models import Checkpoint, GenerationSchedule, TrainingRun

pytestmark = pytest.mark.django_db

TINY = {
    "network": {
        "resolution": 32,
        "z_dim": 16,
        "w_dim": 16,
        "mapping_layers": 1,
        "channel_base": 128,
        "channel_max": 16,
    },
    "batch_size": 4,
    "total_kimg": 0.04,
    "tick_kimg": 0.04,
    "checkpoint_kimg": 0.04,
    "pl_weight": 0.0,
    "ema_kimg": 0.1,
    "device": "cpu",
}


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of a tiny StyleGAN trained for ten steps by the engine."""
    from training.engine.dataset import pack_images
    from training.engine.loop import train
    from training.engine.options import TrainConfig

    folder = tmp_path_factory.mktemp("tiny-gan")
    rng = np.random.default_rng(0)
    paths = []
    for i in range(8):
        path = folder / f"{i}.png"
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    pack_images(paths, folder / "data.pack", 32)
    result = train(TrainConfig.from_dict(TINY), folder / "data.pack", folder / "run", progress=False)
    return result.last_checkpoint


@pytest.fixture
def checkpoint(trained_checkpoint: Path, settings) -> Checkpoint:
    from training.engine.dataset import file_sha256

    settings.TORCH_DEVICE = "cpu"
    run = TrainingRun.objects.create(
        genre=Genre.objects.get(slug="portrait"), config=TINY, status=TrainingRun.Status.SUCCEEDED
    )
    checkpoint = Checkpoint(
        run=run, kimg=0.04, step=10, sha256=file_sha256(trained_checkpoint), published=True
    )
    with open(trained_checkpoint, "rb") as fh:
        checkpoint.file.save(trained_checkpoint.name, File(fh), save=False)
    checkpoint.size = checkpoint.file.size
    checkpoint.save()
    yield checkpoint
    checkpoint.file.delete(save=False)


def stored_pixels(name: str) -> np.ndarray:
    with default_storage.open(name) as fh:
        return np.asarray(Image.open(io.BytesIO(fh.read())).convert("RGB"))


def test_artworks_record_their_provenance_and_can_be_painted_again(checkpoint):
    from training.engine.checkpoint import load_generator
    from training.engine.generate import generate_images

    artworks = generate_artworks(checkpoint, 3, psi=0.6)
    assert [a.seed for a in artworks] == [0, 1, 2]
    for artwork in Artwork.objects.filter(checkpoint=checkpoint):
        assert (artwork.genre.slug, artwork.psi, artwork.noise_mode) == ("portrait", 0.6, "const")
        assert artwork.published and artwork.truncation_cutoff is None
        assert (artwork.width, artwork.height) == (32, 32)
        for field in (
            "image",
            "thumb_small_webp",
            "thumb_small_jpeg",
            "thumb_large_webp",
            "thumb_large_jpeg",
        ):
            assert default_storage.exists(getattr(artwork, field).name), field

    # Reproducible: the same checkpoint, seed, ψ and noise mode paint the same pixels.
    G = load_generator(checkpoint.file.path)
    again = generate_images(G, [artworks[1].seed], psi=artworks[1].psi, noise_mode=artworks[1].noise_mode)
    assert np.array_equal(again[0], stored_pixels(artworks[1].image.name))


def test_new_batches_never_reuse_a_seed(checkpoint):
    generate_artworks(checkpoint, 2)
    generate_artworks(checkpoint, 3)
    seeds = list(
        Artwork.objects.filter(checkpoint=checkpoint).order_by("seed").values_list("seed", flat=True)
    )
    assert seeds == [0, 1, 2, 3, 4]
    # Seeds continue above the highest ever used, even when some were deleted.
    Artwork.objects.filter(seed__in=[0, 1]).delete()
    assert [a.seed for a in generate_artworks(checkpoint, 1)] == [5]


def test_a_failed_batch_leaves_no_rows_and_no_files(checkpoint, settings):
    from training.engine.checkpoint import load_generator
    from training.engine.generate import generate_images

    # Paint the batch ahead of time to learn where its third picture will be
    # written, and put a file where that folder should be: the write fails
    # after two artworks are complete.
    G = load_generator(checkpoint.file.path)
    third = generate_images(G, [2], psi=0.7)[0]
    digest = hashlib.sha256(encode(to_rgb_image(third), "PNG")).hexdigest()
    blocker = Path(settings.MEDIA_ROOT) / "artworks" / digest[:2]
    blocker.parent.mkdir(parents=True, exist_ok=True)
    blocker.write_text("not a folder")

    with pytest.raises(OSError):
        generate_artworks(checkpoint, 3, psi=0.7)
    assert not Artwork.objects.exists()
    written = [p for p in (Path(settings.MEDIA_ROOT) / "artworks").rglob("*") if p.is_file() and p != blocker]
    assert written == []

    blocker.unlink()
    assert [a.seed for a in generate_artworks(checkpoint, 3, psi=0.7)] == [0, 1, 2]


def test_mixing_exhibit_has_coarse_middle_and_fine_grids_with_sources(checkpoint):
    from training.engine.generate import style_bands

    exhibit = build_mixing_exhibit(checkpoint, rows=2, columns=3)
    exhibit = MixingExhibit.objects.get(pk=exhibit.pk)
    assert exhibit.checkpoint == checkpoint and exhibit.published and exhibit.genre.slug == "portrait"
    assert len(exhibit.row_seeds) == 2 and len(exhibit.col_seeds) == 3
    assert len(set(exhibit.row_seeds + exhibit.col_seeds)) == 5
    bands = style_bands(8)  # 32px: 8 ws
    for grid in exhibit.grids.all():
        assert range(grid.layer_start, grid.layer_stop) == bands[grid.band]
        assert grid.cells.count() == 6 and default_storage.exists(grid.figure.name)
    assert sorted(exhibit.grids.values_list("band", flat=True)) == ["coarse", "fine", "middle"]
    sources = list(exhibit.sources.order_by("axis", "position"))
    assert [(s.axis, s.seed) for s in sources] == [("col", s) for s in exhibit.col_seeds] + [
        ("row", s) for s in exhibit.row_seeds
    ]
    for cell in exhibit.grids.get(band="coarse").cells.all():
        assert stored_pixels(cell.image.name).shape == (32, 32, 3)


def test_refresh_rooms_paints_rooms_that_are_due(checkpoint, django_capture_on_commit_callbacks):
    from museum.celery import app

    schedule = GenerationSchedule.objects.create(genre=checkpoint.run.genre, every_hours=24, count=2, psi=0.5)
    app.conf.task_always_eager = True  # run the queued painting here, in this process
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert refresh_rooms() == [checkpoint.pk]
        with django_capture_on_commit_callbacks(execute=True):
            assert refresh_rooms() == []  # not due again for 24 hours
    finally:
        app.conf.task_always_eager = False
    assert list(Artwork.objects.values_list("seed", "psi")) == [(1, 0.5), (0, 0.5)]
    schedule.refresh_from_db()
    assert schedule.last_queued is not None

    GenerationSchedule.objects.filter(pk=schedule.pk).update(last_queued=None, enabled=False)
    assert refresh_rooms() == []
