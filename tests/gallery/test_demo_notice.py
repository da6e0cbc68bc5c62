"""Visitors are told when the rooms come from the offline demo's synthetic
collection rather than from museum paintings."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from gallery.context_processors import DEMO_CACHE_KEY
from scraper.ingest import ingest_image
from scraper.models import ScrapedImage
from tests.scraper.factories import make_item, make_job, painting_bytes

pytestmark = pytest.mark.django_db

DEMO_EN = "This is the offline demo"
DEMO_JA = "これはオフラインのデモです"
MUSEUM_EN = "trained on public-domain works from open-access museum collections"


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.delete(DEMO_CACHE_KEY)
    yield
    cache.delete(DEMO_CACHE_KEY)


def test_a_museum_trained_on_real_paintings_says_so(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    job = make_job()
    assert ingest_image(job.pk, make_item("1"), painting_bytes(1)).outcome == "stored"
    page = client.get("/").content.decode()
    assert MUSEUM_EN in page
    assert DEMO_EN not in page


def test_the_offline_demo_says_its_models_learned_from_a_synthetic_collection(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    job = make_job(source="sample")
    assert ingest_image(job.pk, make_item("1", source="sample"), painting_bytes(1)).outcome == "stored"
    ScrapedImage.objects.update(is_demo=True)
    page = client.get("/").content.decode()
    assert DEMO_EN in page
    assert MUSEUM_EN not in page
    assert DEMO_JA in client.get("/ja/").content.decode()
