"""One class-conditional model for several rooms: started from the admin,
trained by a real worker, judged per room, and painting each room from its
own class."""

from __future__ import annotations

import numpy as np
import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from PIL import Image

from gallery.models import Artwork, Genre, MixingExhibit
from tests.conftest import wait_for
from tests.training.runs_factories import (
    TINY_FORM,
    approved_images,
    run_storage,  # noqa: F401 - a fixture, used through pytestmark
    tiny_overrides,
    user_in_group,
    worker_env,
)
from training import services
from training.models import TrainingRun

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("run_storage")]


def genre(slug: str) -> Genre:
    return Genre.objects.get(slug=slug)


def painted(artwork: Artwork) -> np.ndarray:
    with artwork.image.open("rb") as fh:
        return np.asarray(Image.open(fh).convert("RGB"), dtype=np.int16)


@pytest.mark.slow
def test_a_conditional_run_from_the_admin_paints_two_rooms_each_from_its_class(
    client, settings, celery_worker_factory
):
    approved_images("portrait", 16)
    approved_images("landscape", 16, first_seed=100)
    staff = user_in_group("staff", "Staff")
    client.force_login(staff)
    start = reverse("admin:training_trainingrun_start")
    assert "Also paint these rooms (one class-conditional model)" in client.get(start).content.decode()

    worker = celery_worker_factory(queues="default,gpu", extra_env=worker_env(settings))
    response = client.post(
        start,
        {
            **TINY_FORM,
            "genre": str(genre("portrait").pk),
            "also": [str(genre("landscape").pk)],
            # Every image measured, so each class has enough for its own report.
            "metric_samples": "32",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    run = TrainingRun.objects.get()
    assert [g.slug for g in run.rooms] == ["portrait", "landscape"]
    assert run.config["network"]["num_classes"] == 2
    # While it trains, neither of its rooms takes another run.
    with pytest.raises(ValidationError, match="is still active"):
        services.start_run(genre("landscape"), "smoke", tiny_overrides())

    def finished() -> bool:
        run.refresh_from_db()
        return run.status not in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING)

    wait_for(finished, timeout=240, interval=0.2, what="the run to finish")
    assert run.status == TrainingRun.Status.SUCCEEDED, (run.error, worker.log()[-3000:])
    # The worker packed one labelled set: 16 images of each class.
    from training.engine.dataset import PackedDataset

    storage = run.dataset.packed_file.storage
    pack = PackedDataset(storage.path(run.dataset.packed_file.name))
    assert pack.header["num_classes"] == 2
    assert np.bincount(np.asarray(pack.labels)).tolist() == [16, 16]

    last = run.checkpoints.order_by("kimg").last()
    per_class = last.quality["per_class"]
    assert set(per_class) == {"0", "1"}
    assert per_class["0"]["n_real"] == per_class["1"]["n_real"] == 16
    assert per_class["0"]["swd"] != per_class["1"]["swd"]

    # The run page names the rooms and judges the checkpoint per room.
    page = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    assert "0: Portraits, 1: Landscapes" in page
    for name in ("Portraits", "Landscapes"):
        verdict = "passes" if per_class["0" if name == "Portraits" else "1"]["passed"] else "fails"
        assert f"{name}: {verdict}" in page
    # So does the checkpoint's own page: the pooled report, then one per room.
    detail = client.get(reverse("admin:training_checkpoint_change", args=[last.pk])).content.decode()
    assert detail.index("All its rooms together") < detail.index("Portraits (its class)")
    assert detail.index("Portraits (its class)") < detail.index("Landscapes (its class)")

    # Publishing asks first (two seconds of training fail both reports) and
    # shows each room's report; then it paints both rooms.
    publish = reverse("admin:training_checkpoint_publish", args=[last.pk])
    batch = {"first_batch": "1", "count": "2", "psi": "0.7"}
    asked = client.post(publish, batch).content.decode()
    assert "makes it paint the Portraits, Landscapes rooms" in asked
    assert "<h2>Portraits</h2>" in asked and "<h2>Landscapes</h2>" in asked
    done = client.post(publish, {**batch, "confirm": "1"})
    assert "now paints the Portraits, Landscapes rooms" in client.get(done["Location"]).content.decode()
    wait_for(lambda: Artwork.objects.count() == 4, timeout=180, what="two paintings in each room")

    from training.engine.checkpoint import load_generator
    from training.engine.generate import generate_images

    G = load_generator(last.file.path, device="cpu")
    for index, slug in enumerate(["portrait", "landscape"]):
        artworks = list(Artwork.objects.filter(genre__slug=slug))
        assert len(artworks) == 2
        room = client.get(f"/rooms/{slug}/").content.decode()
        for artwork in artworks:
            assert artwork.checkpoint == last and artwork.published
            assert artwork.get_absolute_url() in room
            # Painted with its room's class: the same seed with the other class is another picture.
            own, other = (
                generate_images(G, [artwork.seed], psi=0.7, noise_mode="const", class_idx=c)[0].astype(
                    np.int16
                )
                for c in (index, 1 - index)
            )
            stored = painted(artwork)
            assert np.abs(stored - own).max() <= 2
            assert np.abs(stored - other).mean() > 4 * max(np.abs(stored - own).mean(), 0.25)

    # An exhibit for one room, asked on the run page's form.
    client.post(
        reverse("admin:training_checkpoint_mix", args=[last.pk]),
        {"genre": str(genre("landscape").pk), "rows": "2", "columns": "2"},
    )
    wait_for(
        lambda: MixingExhibit.objects.filter(grids__isnull=False).exists(), timeout=120, what="an exhibit"
    )
    exhibit = MixingExhibit.objects.get()
    assert exhibit.genre.slug == "landscape" and exhibit.published and exhibit.checkpoint == last


def test_a_conditional_run_needs_enough_images_in_every_room(client):
    approved_images("portrait", 16)
    approved_images("landscape", 5, first_seed=100)
    client.force_login(user_in_group("staff", "Staff"))
    response = client.post(
        reverse("admin:training_trainingrun_start"),
        {**TINY_FORM, "genre": str(genre("portrait").pk), "also": [str(genre("landscape").pk)]},
    )
    assert response.status_code == 200
    assert (
        "Landscapes has only 5 approved images; a training run needs at least 16."
        in response.content.decode()
    )
    assert not TrainingRun.objects.exists()


def test_a_room_busy_with_a_one_genre_run_refuses_a_conditional_run_on_it():
    approved_images("portrait", 16)
    approved_images("landscape", 16, first_seed=100)
    busy = services.start_run(genre("landscape"), "smoke", tiny_overrides())
    with pytest.raises(ValidationError) as refused:
        services.start_run(genre("portrait"), "smoke", tiny_overrides(), also=[genre("landscape")])
    assert refused.value.messages == [
        f"Run {busy.pk} for Landscapes is still active: cancel it or wait for it to finish."
    ]
    assert TrainingRun.objects.count() == 1
    # Ticking the run's own genre again is no second class.
    services.cancel_run(busy)
    run = services.start_run(genre("portrait"), "smoke", tiny_overrides(), also=[genre("portrait")])
    assert run.rooms == [genre("portrait")] and run.config["network"]["num_classes"] == 0


def test_a_conditional_checkpoint_paints_only_the_rooms_no_newer_checkpoint_took(settings):
    """Publishing a one-room checkpoint over one room of a two-room model leaves
    the other room painted by the two-room model, which stays published."""
    from gallery import services as gallery_services
    from training.models import Checkpoint, Dataset, DatasetClass

    portrait, landscape = genre("portrait"), genre("landscape")
    dataset = Dataset.objects.create(genre=portrait, resolution=32, image_count=32)
    DatasetClass.objects.create(dataset=dataset, index=0, genre=portrait)
    DatasetClass.objects.create(dataset=dataset, index=1, genre=landscape)
    both = Checkpoint.objects.create(
        run=TrainingRun.objects.create(
            genre=portrait, dataset=dataset, status="succeeded", config={"network": {"num_classes": 2}}
        ),
        kimg=1,
        sha256="a" * 64,
    )
    one = Checkpoint.objects.create(
        run=TrainingRun.objects.create(genre=landscape, status="succeeded", config={"network": {}}),
        kimg=1,
        sha256="b" * 64,
    )
    gallery_services.publish_checkpoint(both)
    assert gallery_services.published_checkpoint(portrait) == both
    assert gallery_services.published_checkpoint(landscape) == both
    gallery_services.publish_checkpoint(one)
    assert gallery_services.published_checkpoint(landscape) == one
    assert gallery_services.published_checkpoint(portrait) == both
    both.refresh_from_db()
    assert both.published
    # A painting request for a room the model does not paint is refused.
    with pytest.raises(ValidationError, match="does not paint the Portraits room"):
        gallery_services.queue_generation(one, 2, 0.7, genre=portrait)
    # Taking its last room unpublishes the two-room model.
    other = Checkpoint.objects.create(run=one.run, kimg=2, sha256="c" * 64)
    gallery_services.publish_checkpoint(other)
    solo = Checkpoint.objects.create(
        run=TrainingRun.objects.create(genre=portrait, status="succeeded", config={"network": {}}),
        kimg=1,
        sha256="d" * 64,
    )
    gallery_services.publish_checkpoint(solo)
    both.refresh_from_db()
    one.refresh_from_db()
    assert not both.published and not one.published
    assert gallery_services.published_checkpoint(portrait) == solo
    assert gallery_services.published_checkpoint(landscape) == other
