"""Painting artworks and mixing exhibits from a real (tiny) trained checkpoint."""

from __future__ import annotations

import hashlib
import io
import random
from pathlib import Path

import numpy as np
import pytest
from django.core.files import File
from django.core.files.storage import default_storage
from PIL import Image

from gallery.generation import build_mixing_exhibit, generate_artworks
from gallery.models import Artwork, Genre, MixingExhibit
from gallery.periodic import refresh_rooms
from gallery.room_guards import training_collection
from gallery.thumbnails import encode, save_artwork_image, to_rgb_image
from scraper.models import ScrapedImage
from tests.training.runs_factories import approved_images, painting_png
from training.models import Checkpoint, Dataset, GenerationSchedule, TrainingRun

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


COLLECTION_SIZE = 8


@pytest.fixture(scope="module")
def trained_checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkpoint of a tiny StyleGAN trained for ten steps by the engine on
    the pictures ``approved_images`` stores (seeds 0-7)."""
    from training.engine.dataset import pack_images
    from training.engine.loop import train
    from training.engine.options import TrainConfig

    folder = tmp_path_factory.mktemp("tiny-gan")
    paths = []
    for i in range(COLLECTION_SIZE):
        path = folder / f"{i}.png"
        path.write_bytes(painting_png(i))
        paths.append(path)
    pack_images(paths, folder / "data.pack", 32)
    result = train(TrainConfig.from_dict(TINY), folder / "data.pack", folder / "run", progress=False)
    return result.last_checkpoint


def register_checkpoint(path: Path, genre: Genre, dataset: Dataset | None = None) -> Checkpoint:
    """A published checkpoint row of a run of ``genre`` trained on ``dataset``."""
    from training.engine.dataset import file_sha256

    run = TrainingRun.objects.create(
        genre=genre, config=TINY, dataset=dataset, status=TrainingRun.Status.SUCCEEDED
    )
    checkpoint = Checkpoint(run=run, kimg=0.04, step=10, sha256=file_sha256(path), published=True)
    with open(path, "rb") as fh:
        checkpoint.file.save(path.name, File(fh), save=False)
    checkpoint.size = checkpoint.file.size
    checkpoint.save()
    return checkpoint


def training_dataset(genre: Genre, images: list[ScrapedImage]) -> Dataset:
    dataset = Dataset.objects.create(genre=genre, resolution=32, image_count=len(images))
    dataset.images.set(images)
    return dataset


@pytest.fixture
def collection() -> list[ScrapedImage]:
    """The approved images the tiny model learned from."""
    return approved_images("portrait", COLLECTION_SIZE)


@pytest.fixture
def checkpoint(trained_checkpoint: Path, collection, settings) -> Checkpoint:
    settings.TORCH_DEVICE = "cpu"
    genre = Genre.objects.get(slug="portrait")
    checkpoint = register_checkpoint(trained_checkpoint, genre, training_dataset(genre, collection))
    yield checkpoint
    checkpoint.file.delete(save=False)


def stored_pixels(name: str) -> np.ndarray:
    with default_storage.open(name) as fh:
        return np.asarray(Image.open(io.BytesIO(fh.read())).convert("RGB"))


def test_artworks_record_their_provenance_and_can_be_painted_again(checkpoint):
    from training.engine.checkpoint import load_generator
    from training.engine.generate import generate_images

    artworks = generate_artworks(checkpoint, 3, psi=0.6)
    assert len({a.seed for a in artworks}) == 3
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
    # Without a pool the next seeds hang in order.
    generate_artworks(checkpoint, 2, pool=1)
    generate_artworks(checkpoint, 3, pool=1)
    seeds = list(
        Artwork.objects.filter(checkpoint=checkpoint).order_by("seed").values_list("seed", flat=True)
    )
    assert seeds == [0, 1, 2, 3, 4]
    # Seeds continue above the highest ever used, even when some were deleted.
    Artwork.objects.filter(seed__in=[0, 1]).delete()
    assert [a.seed for a in generate_artworks(checkpoint, 1, pool=1)] == [5]
    # A pool's batch also paints above them, and its unchosen seeds are skipped for good.
    pooled = [a.seed for a in generate_artworks(checkpoint, 2, pool=3)]
    assert len(set(pooled)) == 2 and min(pooled) >= 6
    assert [a.seed for a in generate_artworks(checkpoint, 1, pool=1)] == [max(pooled) + 1]


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
        generate_artworks(checkpoint, 3, psi=0.7, pool=1)
    assert not Artwork.objects.exists()
    written = [p for p in (Path(settings.MEDIA_ROOT) / "artworks").rglob("*") if p.is_file() and p != blocker]
    assert written == []

    blocker.unlink()
    assert [a.seed for a in generate_artworks(checkpoint, 3, psi=0.7, pool=1)] == [0, 1, 2]


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

    schedule = GenerationSchedule.objects.create(
        genre=checkpoint.run.genre, every_hours=24, count=2, psi=0.5, truncation_cutoff=2
    )
    app.conf.task_always_eager = True  # run the queued painting here, in this process
    try:
        with django_capture_on_commit_callbacks(execute=True):
            assert refresh_rooms() == [checkpoint.pk]
        with django_capture_on_commit_callbacks(execute=True):
            assert refresh_rooms() == []  # not due again for 24 hours
    finally:
        app.conf.task_always_eager = False
    # Painted as the schedule says: psi 0.5 on the first 2 ws.
    assert list(Artwork.objects.values_list("psi", "truncation_cutoff")) == [(0.5, 2), (0.5, 2)]
    schedule.refresh_from_db()
    assert schedule.last_queued is not None

    GenerationSchedule.objects.filter(pk=schedule.pk).update(last_queued=None, enabled=False)
    assert refresh_rooms() == []


def test_publishing_with_a_first_batch_paints_as_the_room_schedule_says_and_starts_its_period(
    checkpoint, client, django_capture_on_commit_callbacks
):
    from django.urls import reverse

    from museum.celery import app
    from tests.training.runs_factories import user_in_group

    # The room truncates its coarse styles only; publishing used to paint its
    # first batch at the button's ψ 0.7 on every layer and leave the schedule due,
    # so beat's next refresh painted a second batch minutes later.
    Checkpoint.objects.filter(pk=checkpoint.pk).update(published=False)
    GenerationSchedule.objects.create(genre=checkpoint.run.genre, count=5, psi=0.5, truncation_cutoff=2)
    client.force_login(user_in_group("staff", "Staff"))
    url = reverse("admin:training_checkpoint_publish", args=[checkpoint.pk])
    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            done = client.post(url, {"first_batch": "1", "count": "2", "confirm": "1"})
        assert done.status_code == 302
        with django_capture_on_commit_callbacks(execute=True):
            assert refresh_rooms() == []  # the period started with the first batch
    finally:
        app.conf.task_always_eager = False
    checkpoint.refresh_from_db()
    assert checkpoint.published
    assert list(Artwork.objects.values_list("psi", "truncation_cutoff")) == [(0.5, 2), (0.5, 2)]
    assert GenerationSchedule.objects.get(genre=checkpoint.run.genre).last_queued is not None


def test_publishing_to_a_room_without_a_schedule_gives_it_one_that_is_not_due(
    checkpoint, django_capture_on_commit_callbacks
):
    from gallery import services
    from museum.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            services.publish_checkpoint(checkpoint, first_batch=2)
        with django_capture_on_commit_callbacks(execute=True):
            assert refresh_rooms() == []
    finally:
        app.conf.task_always_eager = False
    schedule = GenerationSchedule.objects.get(genre=checkpoint.run.genre)
    assert schedule.last_queued is not None and (schedule.psi, schedule.truncation_cutoff) == (0.7, None)
    assert list(Artwork.objects.values_list("psi", "truncation_cutoff")) == [(0.7, None), (0.7, None)]

    # Without a first batch the room has nothing new on its walls: its schedule stays due.
    GenerationSchedule.objects.all().delete()
    services.publish_checkpoint(checkpoint)
    assert GenerationSchedule.objects.get(genre=checkpoint.run.genre).is_due()


# The room guards ---------------------------------------------------------------------------


def training_copy_of(path: Path, genre: Genre, seed: int, variant: int = 0) -> ScrapedImage:
    """An approved training image that is exactly what the checkpoint at
    ``path`` paints for ``seed`` (ψ 0.7): a painting of that seed copies it.
    A ``variant`` above 0 changes a few pixels by one level: another file of
    the same picture."""
    from training.engine.checkpoint import load_generator
    from training.engine.generate import generate_images

    pixels = generate_images(load_generator(path), [seed], psi=0.7)[0]
    if variant:
        flat = pixels.reshape(-1).copy()
        flat[np.random.default_rng(variant).choice(flat.size, 8, replace=False)] ^= 1
        pixels = flat.reshape(pixels.shape)
    copied = encode(to_rgb_image(pixels), "PNG")
    digest = hashlib.sha256(copied).hexdigest()
    original = ScrapedImage(
        genre=genre,
        source="aic",
        source_id=f"copied-{seed}-{variant}",
        title="The original",
        page_url="https://www.artic.edu/artworks/1",
        licence="CC0",
        width=32,
        height=32,
        content_hash=digest,
        status=ScrapedImage.Status.APPROVED,
    )
    original.image.save(f"{digest}.png", File(io.BytesIO(copied)), save=False)
    original.save()
    return original


def stored_features(name: str) -> np.ndarray:
    from training.engine.features import embed_pictures

    return embed_pictures([stored_pixels(name)]).numpy()


def test_every_artwork_records_its_nearest_training_image(checkpoint, collection):
    from training.engine.features import embed_pictures, pairwise_distances

    artworks = generate_artworks(checkpoint, 3)
    training = embed_pictures([Image.open(image.image.path).convert("RGB") for image in collection])
    mirrored = embed_pictures(
        [
            Image.open(image.image.path).convert("RGB").transpose(Image.Transpose.FLIP_LEFT_RIGHT)
            for image in collection
        ]
    )
    import torch

    both = torch.cat([training, mirrored])
    for artwork in Artwork.objects.filter(pk__in=[a.pk for a in artworks]):
        d = pairwise_distances(torch.from_numpy(stored_features(artwork.image.name)), both)[0]
        j = int(d.argmin())
        assert artwork.nearest_training_image == collection[j % COLLECTION_SIZE]
        assert artwork.nearest_training_distance == pytest.approx(float(d[j]), abs=1e-4)
        assert artwork.published and artwork.withheld_reason == ""


def test_a_painting_that_copies_a_training_image_is_withheld(checkpoint, collection, settings):
    # The collection also holds exactly what this model paints for seed 1:
    # that painting copies a training image.
    original = training_copy_of(Path(checkpoint.file.path), checkpoint.run.genre, seed=1)
    checkpoint.run.dataset.images.add(original)

    generate_artworks(checkpoint, 3, pool=1)  # in seed order
    hung = Artwork.objects.published().order_by("seed")
    assert [a.seed for a in hung] == [0, 2, 3]  # a fourth seed replaced the copy
    copy = Artwork.objects.get(seed=1)
    assert not copy.published and copy.nearest_training_image == original
    assert copy.nearest_training_distance < 1e-4  # the same picture
    assert copy.withheld_reason.startswith(f"a near copy of training image {original.pk}")
    threshold = training_collection(checkpoint).copy_threshold
    assert all(a.nearest_training_distance >= threshold for a in hung)


def test_a_collapsed_model_hangs_one_painting_and_gives_up_with_a_readable_message(checkpoint):
    from gallery.generation import NotEnoughDistinctPaintings

    # ψ = 0 paints every seed at the average style: one picture for every seed.
    with pytest.raises(NotEnoughDistinctPaintings) as failure:
        generate_artworks(checkpoint, 4, psi=0.0)
    message = str(failure.value)
    assert "painted only 1 of 4 paintings distinct enough for the Portraits room in 16 tries" in message
    assert "train it further or publish another checkpoint" in message
    assert Artwork.objects.published().count() == 1

    # The room already holds that picture: a second batch hangs nothing more.
    with pytest.raises(NotEnoughDistinctPaintings, match="painted only 0 of 2"):
        generate_artworks(checkpoint, 2, psi=0.0)
    assert Artwork.objects.published().count() == 1


def test_a_painting_that_looks_like_another_room_is_not_hung_there(checkpoint):
    from gallery.generation import NotEnoughDistinctPaintings
    from gallery.room_guards import GENRE_GUARD_MIN_IMAGES

    # The Landscapes room's collection is what this portrait model paints (for other seeds).
    landscapes = Genre.objects.get(slug="landscape")
    for seed in range(1000, 1000 + GENRE_GUARD_MIN_IMAGES):
        training_copy_of(Path(checkpoint.file.path), landscapes, seed)
    # Too few portraits to judge by: every painting hangs.
    assert len(generate_artworks(checkpoint, 1, pool=1)) == 1
    approved_images("portrait", GENRE_GUARD_MIN_IMAGES - COLLECTION_SIZE, first_seed=COLLECTION_SIZE)
    with pytest.raises(NotEnoughDistinctPaintings) as failure:
        generate_artworks(checkpoint, 3, pool=1)
    assert (
        "painted only 0 of 3 paintings distinct enough for the Portraits room in 12 tries: 12 looked more "
        "like another room than any image of its collection does (12 like the Landscapes room); none was a "
        "near duplicate. The model has collapsed, memorised its collection or paints another genre"
    ) in str(failure.value)
    assert Artwork.objects.count() == 1  # the failed batch saved nothing
    Artwork.objects.all().delete()
    # An exhibit still shows what the model paints when no source would hang.
    exhibit = build_mixing_exhibit(checkpoint, rows=2, columns=2, rng=random.Random(7))
    assert exhibit.sources.count() == 4

    # Landscapes rejected, the room has no other room to be compared with: the same seeds hang.
    ScrapedImage.objects.filter(genre=landscapes).update(status=ScrapedImage.Status.REJECTED)
    assert [a.seed for a in generate_artworks(checkpoint, 3, pool=1)] == [0, 1, 2]


def test_a_batch_hangs_the_most_unlike_paintings_of_its_pool(checkpoint):
    import itertools

    from gallery.mixing import glance_distance
    from gallery.room_guards import from_bytes, training_collection
    from training.engine.checkpoint import load_generator
    from training.engine.features import embed_uint8, glance_uint8, pairwise_distances, picture_array
    from training.engine.generate import generate_images

    def closest_pair(d: np.ndarray, picks) -> float:
        return min(d[i, j] for i, j in itertools.combinations(picks, 2))

    artworks = generate_artworks(checkpoint, 4, pool=3)
    hung = sorted(a.seed for a in artworks)
    # The pool: the room's next 12 seeds, painted as the batch painted them.
    pool = list(range(12))
    assert set(hung) <= set(pool)
    G = load_generator(checkpoint.file.path)
    pictures = np.stack([picture_array(p) for p in generate_images(G, pool, psi=0.7)])
    features, glances = embed_uint8(pictures), glance_uint8(pictures)
    # Each painting keeps its glance (an 8x8 colour thumbnail) for the room's next batches.
    for art in artworks:
        assert np.array_equal(from_bytes(art.glance), glances[art.seed].numpy())
    collection = training_collection(checkpoint)
    unlike = glance_distance(
        pairwise_distances(features, features).numpy(),
        pairwise_distances(glances, glances).numpy(),
        collection.feature_scale,
        collection.glance_scale,
    )
    # The two most alike paintings on the wall, by features or at a glance,
    # are less alike than those of the four seeds in order (what a batch
    # without a pool hangs), and than those of nine in ten of the pool's
    # choices of four.
    chosen = closest_pair(unlike, hung)
    assert chosen > closest_pair(unlike, range(4))
    others = sorted(closest_pair(unlike, picks) for picks in itertools.combinations(range(12), 4))
    assert chosen >= others[int(0.9 * len(others))]

    # A pool of zero paints nothing and says why.
    with pytest.raises(ValueError, match="pool=0 must be at least 1"):
        generate_artworks(checkpoint, 1, pool=0)


def test_a_batch_hangs_nothing_that_looks_like_a_painting_on_the_wall_from_across_the_room(checkpoint):
    """A painting on the wall is one the model paints, each cell of its 8x8
    glance repainted as a checkerboard of two other colours that average to the
    cell's: far from it in the feature space (palette, texture, edges), the
    same at a glance. The pool's
    farthest choice by features alone would hang the model's painting beside
    it; the batch does not."""
    from gallery.mixing import most_unlike
    from gallery.room_guards import from_bytes
    from tests.gallery.factories import make_artwork
    from training.engine.checkpoint import load_generator
    from training.engine.features import embed_uint8, glance_uint8, pairwise_distances, picture_array
    from training.engine.generate import generate_images

    def repainted(image: np.ndarray) -> np.ndarray:
        """The 64-px picture with each cell of its 8x8 glance repainted as a checkerboard
        of two colours, far from the cell's own and averaging to it."""
        means = picture_array(image).reshape(8, 8, 8, 8, 3).mean(axis=(1, 3))  # [8, 8, 3]
        swing = np.minimum(means, 255 - means) * np.array([1, -1, 1])
        checker = (np.indices((64, 64)).sum(axis=0) % 2 * 2 - 1)[..., None]
        cells = np.repeat(np.repeat(means, 8, axis=0), 8, axis=1)
        swings = np.repeat(np.repeat(swing, 8, axis=0), 8, axis=1)
        return np.rint(cells + checker * swings).astype(np.uint8)

    # The wall's painting gets seed 0, so the batch of 4 (pool 2) paints seeds 1-8.
    pool = list(range(1, 9))
    images = generate_images(load_generator(checkpoint.file.path), pool, psi=0.7)
    pictures = np.stack([picture_array(p) for p in images])
    features = embed_uint8(pictures)
    threshold = training_collection(checkpoint).duplicate_threshold
    look_alike = None
    for k, image in enumerate(images):
        copy = embed_uint8(repainted(image)[None])
        on_wall = pairwise_distances(features, copy).numpy()[:, 0]
        by_features = most_unlike(on_wall, pairwise_distances(features, features).numpy(), 4, threshold, True)
        if k in by_features:
            look_alike = k
            break
    assert look_alike is not None, "no painting of the pool that features alone would hang beside its copy"
    assert on_wall[look_alike] > 2 * threshold  # far from a near duplicate by features
    wall = make_artwork(Genre.objects.get(slug="portrait"), seed=0)
    save_artwork_image(
        wall, repainted(images[look_alike])
    )  # stored before glances were: measured from its file
    assert wall.features is None and wall.glance is None

    hung = sorted(a.seed for a in generate_artworks(checkpoint, 4, pool=2))
    assert len(hung) == 4 and set(hung) <= set(pool)
    assert pool[look_alike] not in hung
    wall.refresh_from_db()
    glance = glance_uint8(picture_array(stored_pixels(wall.image.name))[None])[0].numpy()
    assert np.allclose(from_bytes(wall.glance), glance)
    same = glance_uint8(pictures[look_alike : look_alike + 1]).numpy()[0]
    assert np.abs(same - glance).max() <= 1 / 255  # each cell within rounding


def test_a_pool_too_large_to_keep_paints_its_hung_seeds_again(checkpoint, monkeypatch):
    """A 1000-painting request of a 1024-px model must not hold its whole pool
    in memory: with room for two paintings, a batch paints two seeds at a time,
    keeps only their features, paints the four it hangs again, and saves what
    it saves when the pool fits."""
    import gallery.generation as generation
    from training.engine import generate

    def saved(artworks):
        return [(a.seed, bytes(a.features), stored_pixels(a.image.name).tobytes()) for a in artworks]

    fits = saved(generate_artworks(checkpoint, 4, pool=3))
    Artwork.objects.all().delete()  # the room is empty again: the same seeds come next

    painted: list[int] = []
    real = generate.generate_images

    def counted(G, seeds, **kwargs):
        painted.append(len(seeds))
        return real(G, seeds, **kwargs)

    monkeypatch.setattr(generate, "generate_images", counted)
    monkeypatch.setattr(generation, "POOL_IMAGE_BYTES", 2 * 3 * 32 * 32)
    large = saved(generate_artworks(checkpoint, 4, pool=3))
    assert max(painted) == 2
    assert sum(painted) == 12 + 4  # the pool, then the four it hangs
    assert large == fits


def test_seeds_continue_per_room_across_checkpoints(checkpoint, trained_checkpoint):
    generate_artworks(checkpoint, 2, pool=1)
    later = register_checkpoint(trained_checkpoint, checkpoint.run.genre, checkpoint.run.dataset)
    assert [a.seed for a in generate_artworks(later, 2, pool=1)] == [2, 3]
    titles = [a.display_title for a in Artwork.objects.filter(genre=checkpoint.run.genre)]
    assert len(titles) == len(set(titles)) == 4
    # Another room starts its own seeds.
    landscape = Genre.objects.get(slug="landscape")
    other = register_checkpoint(
        trained_checkpoint, landscape, training_dataset(landscape, list(ScrapedImage.objects.all()))
    )
    assert [a.seed for a in generate_artworks(other, 1, pool=1)] == [0]


def test_mixing_exhibit_sources_are_far_apart_and_its_text_says_what_it_measured(checkpoint, client):
    import torch

    from gallery.generation import MAX_SEED
    from gallery.mixing import farthest_apart, glance_distance, typical_nearest
    from training.engine.checkpoint import load_generator
    from training.engine.features import embed_uint8, glance_uint8, pairwise_distances, picture_array
    from training.engine.generate import generate_images

    exhibit = build_mixing_exhibit(checkpoint, rows=2, columns=2, rng=random.Random(7))
    sources = list(exhibit.sources.order_by("axis", "position"))
    features = embed_uint8(np.stack([stored_pixels(s.image.name) for s in sources]))
    d = pairwise_distances(features, features) + torch.eye(len(sources)) * 9
    # The first four seeds of the same draw (what a plain random choice would
    # have shown) lie closer together than the four the exhibit chose.
    pool = random.Random(7).sample(range(MAX_SEED), 16)
    plain = embed_uint8(generate_images(load_generator(checkpoint.file.path), pool[:4], psi=0.7))
    plain_d = pairwise_distances(plain, plain) + torch.eye(4) * 9
    assert set(exhibit.row_seeds + exhibit.col_seeds) <= set(pool)
    assert float(d.min()) > float(plain_d.min())
    # The sources are the farthest apart of the 16 by features and at a glance
    # (units: the pool's own typical nearest-neighbour distances), as the room's paintings.
    pictures = np.stack(
        [picture_array(p) for p in generate_images(load_generator(checkpoint.file.path), pool, psi=0.7)]
    )
    features_apart = pairwise_distances(embed_uint8(pictures), embed_uint8(pictures)).numpy()
    glances_apart = pairwise_distances(glance_uint8(pictures), glance_uint8(pictures)).numpy()
    unlike = glance_distance(
        features_apart, glances_apart, typical_nearest(features_apart), typical_nearest(glances_apart)
    )
    chosen = [pool.index(seed) for seed in exhibit.row_seeds + exhibit.col_seeds]
    assert sorted(chosen) == sorted(farthest_apart(unlike, 4))

    measures = exhibit.band_measures
    assert sorted(measures) == ["coarse", "fine", "middle"]
    for band in measures.values():
        assert band["aspect"] in {"colour", "layout", "detail"} and band["change"] >= 0
    strongest = max(measures, key=lambda band: measures[band]["change"])
    body = client.get(f"/exhibits/{exhibit.pk}/").content.decode()
    change = round(100 * measures[strongest]["change"])
    assert f"the {strongest} band changed the paintings most: they moved {change}% of the way" in body
    assert "coarse styles bring B's pose" not in body  # not the paper's faces


def test_exhibit_sources_that_look_like_another_room_are_left_out(checkpoint, collection):
    from gallery.generation import MAX_SEED
    from gallery.mixing import farthest_apart
    from gallery.room_guards import GENRE_GUARD_MIN_IMAGES, genre_guard
    from training.engine.checkpoint import load_generator
    from training.engine.features import embed_uint8, pairwise_distances
    from training.engine.generate import generate_images

    # The exhibit's candidate sources, and the five it would show without the guard.
    pool = random.Random(7).sample(range(MAX_SEED), 20)
    features = embed_uint8(generate_images(load_generator(checkpoint.file.path), pool, psi=0.7))
    unguarded = [pool[i] for i in farthest_apart(pairwise_distances(features, features).numpy(), 5)]
    # The Landscapes room's collection: files of the first of those; this room's: the rest of the pool.
    for variant in range(1, GENRE_GUARD_MIN_IMAGES + 1):
        training_copy_of(
            Path(checkpoint.file.path), Genre.objects.get(slug="landscape"), unguarded[0], variant
        )
    ScrapedImage.objects.filter(pk__in=[image.pk for image in collection]).update(
        status=ScrapedImage.Status.REJECTED
    )
    for seed in [s for s in pool if s != unguarded[0]] + [2000]:
        training_copy_of(Path(checkpoint.file.path), checkpoint.run.genre, seed)
    looks_like = genre_guard(checkpoint.run.genre_id).other_rooms(features.numpy())
    off = {seed for seed, room in zip(pool, looks_like, strict=True) if room is not None}
    assert unguarded[0] in off and len(pool) - len(off) >= 5

    exhibit = build_mixing_exhibit(checkpoint, rows=2, columns=3, rng=random.Random(7))
    sources = set(exhibit.row_seeds + exhibit.col_seeds)
    assert len(sources) == 5 and sources <= set(pool) - off


def test_an_exhibit_painted_with_coarse_truncation_records_and_shows_it(checkpoint, client):
    from training.engine.checkpoint import load_generator
    from training.engine.generate import generate_images

    # psi 0: truncated on every layer, every source would be the one average painting.
    exhibit = build_mixing_exhibit(
        checkpoint, rows=2, columns=2, psi=0.0, truncation_cutoff=4, rng=random.Random(3)
    )
    exhibit = MixingExhibit.objects.get(pk=exhibit.pk)
    assert (exhibit.psi, exhibit.truncation_cutoff) == (0.0, 4)
    # Its sources are the paintings those seeds make so truncated (as the room's artworks are), not
    # the fully truncated ones (the sources are stored as JPEG: compared within its loss).
    G = load_generator(checkpoint.file.path)
    cut = generate_images(G, exhibit.row_seeds, psi=0.0, truncation_cutoff=4).astype(float)
    full = generate_images(G, exhibit.row_seeds, psi=0.0).astype(float)
    stored = np.stack(
        [stored_pixels(s.image.name) for s in exhibit.sources.filter(axis="row").order_by("position")]
    ).astype(float)
    assert np.abs(stored - cut).mean() < np.abs(stored - full).mean() / 2
    body = client.get(f"/exhibits/{exhibit.pk}/").content.decode()
    assert "0.00 (first 4 layers)" in body
    plain = build_mixing_exhibit(checkpoint, rows=1, columns=1, psi=0.5)
    assert plain.truncation_cutoff is None
    assert "first 4 layers" not in client.get(f"/exhibits/{plain.pk}/").content.decode()
