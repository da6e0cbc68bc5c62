"""The room guards in the real generation task, on a real worker process."""

from __future__ import annotations

import pytest

from gallery import services as gallery_services
from gallery.models import Artwork, Genre
from tests.conftest import wait_for
from tests.gallery.test_generation import (  # noqa: F401 - fixtures
    COLLECTION_SIZE,
    register_checkpoint,
    trained_checkpoint,
    training_copy_of,
    training_dataset,
)
from tests.training.runs_factories import approved_images

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_worker_hangs_distinct_paintings_withholds_copies_and_gives_up_on_collapse(
    celery_worker_factory,
    trained_checkpoint,  # noqa: F811 - the fixture imported above
    settings,
):
    settings.TORCH_DEVICE = "cpu"
    portrait = Genre.objects.get(slug="portrait")
    collection = approved_images("portrait", COLLECTION_SIZE)
    # The collection also holds exactly what the model paints for seed 1.
    original = training_copy_of(trained_checkpoint, portrait, seed=1)
    checkpoint = register_checkpoint(
        trained_checkpoint, portrait, training_dataset(portrait, [*collection, original])
    )
    worker = celery_worker_factory(
        queues="gpu", extra_env={"TORCH_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    )

    gallery_services.queue_generation(checkpoint, 3, 0.7)
    wait_for(lambda: Artwork.objects.published().count() == 3, timeout=180, what="the first batch")
    hung = set(Artwork.objects.published().values_list("seed", flat=True))
    assert len(hung) == 3 and 1 not in hung  # the copy does not hang; three others do
    copy = Artwork.objects.get(seed=1)
    assert not copy.published and copy.nearest_training_image == original
    assert "a near copy of training image" in copy.withheld_reason
    assert all(a.nearest_training_image_id for a in Artwork.objects.all())

    # ψ = 0: the model paints one picture for every seed.
    gallery_services.queue_generation(checkpoint, 3, 0.0)
    wait_for(lambda: "NotEnoughDistinctPaintings" in worker.log(), timeout=180, what="the collapsed batch")
    assert "painted only 1 of 3 paintings distinct enough for the Portraits room" in worker.log()
    assert Artwork.objects.published().count() == 4
    seeds = list(Artwork.objects.values_list("seed", flat=True))
    assert len(seeds) == len(set(seeds))
