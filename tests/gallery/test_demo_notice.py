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


def lede(page: str) -> str:
    start = page.index('<p class="lede">')
    return page[start : page.index("</p>", start)]


def test_the_home_page_of_the_offline_demo_does_not_claim_public_domain_works(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    job = make_job(source="sample")
    assert ingest_image(job.pk, make_item("1", source="sample"), painting_bytes(1)).outcome == "stored"

    intro = lede(client.get("/").content.decode())

    assert "public-domain" not in intro and "thousands" not in intro
    assert "synthetic sample collection" in intro
    japanese = lede(client.get("/ja/").content.decode())
    assert "パブリックドメイン" not in japanese and "合成" in japanese


def test_the_home_page_of_a_museum_trained_on_real_paintings_names_them_without_inventing_a_count(
    client, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path
    job = make_job()
    assert ingest_image(job.pk, make_item("1"), painting_bytes(1)).outcome == "stored"

    intro = lede(client.get("/").content.decode())

    assert "public-domain works of its genre from open-access museum collections" in intro
    assert "thousands" not in intro and "synthetic" not in intro
