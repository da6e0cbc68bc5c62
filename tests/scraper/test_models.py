"""Models, groups and the permissions the data migration grants."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.db import IntegrityError

from scraper.models import ScrapedImage, phash_bands
from tests.scraper.factories import make_job, make_user


def codenames(group_name: str) -> set[str]:
    group = Group.objects.get(name=group_name)
    return {
        f"{p.content_type.app_label}.{p.codename}" for p in group.permissions.select_related("content_type")
    }


@pytest.mark.django_db
def test_curators_may_review_but_not_crawl_or_train():
    perms = codenames("Curators")
    assert perms == {"scraper.review_images", "scraper.view_scrapedimage", "scraper.change_scrapedimage"}
    curator = make_user("carla", "Curators")
    assert curator.has_perm("scraper.review_images")
    assert not curator.has_perm("scraper.start_crawl")
    assert not curator.has_perm("training.start_training")


@pytest.mark.django_db
def test_staff_may_crawl_review_train_and_publish():
    perms = codenames("Staff")
    assert {
        "scraper.start_crawl",
        "scraper.review_images",
        "training.start_training",
        "training.publish_checkpoint",
        "gallery.view_genre",
        "gallery.view_artwork",
        "gallery.view_mixingexhibit",
    } <= perms
    staff = make_user("sam", "Staff")
    assert staff.has_perm("scraper.start_crawl") and staff.has_perm("training.publish_checkpoint")


@pytest.mark.django_db
def test_job_query_falls_back_to_the_genre_search_terms_and_reports_progress():
    job = make_job("cityscape", item_limit=20)
    assert job.effective_query == job.genre.search_terms != ""
    job.counts = {"stored": 4, "rejected": 1, "rejected:truncated": 1}
    assert job.processed == 5
    assert job.progress_percent == 25
    assert make_job("cityscape", query="Venice").effective_query == "Venice"
    assert make_job("cityscape").progress_percent is None


@pytest.mark.django_db
def test_content_hash_is_unique_and_phash_bands_follow_the_hash():
    job = make_job()
    fields = dict(job=job, genre=job.genre, source="aic", width=100, height=100, image="scraped/x.jpg")
    image = ScrapedImage.objects.create(content_hash="a" * 64, phash="0123456789abcdef", **fields)
    assert [image.phash_band0, image.phash_band7] == [0x01, 0xEF]
    image.phash = "ff23456789abcdef"
    image.save(update_fields=["phash"])
    image.refresh_from_db()
    assert image.phash_band0 == 0xFF
    assert phash_bands("") == [None] * 8
    with pytest.raises(IntegrityError):
        ScrapedImage.objects.create(content_hash="a" * 64, phash="", **fields)
