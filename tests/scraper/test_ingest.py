"""ingest_image / record_outcome against the real database and storage."""

from __future__ import annotations

import threading

import pytest
from django.core.files.storage import default_storage
from django.db import connection

from scraper.ingest import ingest_image, record_outcome
from scraper.models import CrawlJob, ScrapedImage
from tests.scraper.factories import make_item, make_job, painting_bytes, resized_bytes


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.django_db
def test_a_good_image_is_stored_under_its_content_hash_with_its_metadata():
    job = make_job()
    result = ingest_image(job.pk, make_item("27992"), painting_bytes(1), "image/jpeg")

    assert result.outcome == "stored" and result.reason == ""
    image = ScrapedImage.objects.get(pk=result.image_id)
    assert image.status == "pending" and image.job == job and image.genre.slug == "landscape"
    assert (image.source, image.source_id, image.artist, image.licence) == (
        "aic",
        "27992",
        "Claude Monet",
        "CC0",
    )
    assert image.page_url == "https://www.artic.edu/artworks/27992"
    assert image.image.name == f"scraped/{image.content_hash[:2]}/{image.content_hash}.jpg"
    assert default_storage.exists(image.image.name)
    assert (image.width, image.height) == (320, 256)
    job.refresh_from_db()
    assert job.counts == {"stored": 1}
    assert "stored" in job.log_tail and "27992" in job.log_tail


@pytest.mark.django_db
def test_exact_duplicates_are_counted_and_not_stored_twice():
    job = make_job()
    data = painting_bytes(2)
    first = ingest_image(job.pk, make_item("1"), data)
    second = ingest_image(job.pk, make_item("2"), data)

    assert second.outcome == "duplicate" and second.image_id == first.image_id
    assert ScrapedImage.objects.count() == 1
    job.refresh_from_db()
    assert job.counts == {"stored": 1, "duplicate": 1}


@pytest.mark.django_db
def test_a_near_duplicate_is_stored_and_linked_to_the_image_it_resembles():
    job = make_job()
    original = ingest_image(job.pk, make_item("1"), painting_bytes(3))
    unrelated = ingest_image(job.pk, make_item("2"), painting_bytes(4))
    copy = ingest_image(job.pk, make_item("3"), resized_bytes(painting_bytes(3), (300, 240)))

    assert copy.outcome == "stored" and copy.reason == "near_duplicate"
    image = ScrapedImage.objects.get(pk=copy.image_id)
    assert image.near_duplicate_of_id == original.image_id
    assert image.near_duplicate_distance <= 6
    assert ScrapedImage.objects.get(pk=unrelated.image_id).near_duplicate_of is None
    job.refresh_from_db()
    assert job.counts == {"stored": 3, "stored:near_duplicate": 1}


@pytest.mark.django_db
def test_near_duplicates_are_looked_for_within_the_same_genre_only():
    ingest_image(make_job("landscape").pk, make_item("1", "landscape"), painting_bytes(5))
    other = ingest_image(
        make_job("portrait").pk, make_item("2", "portrait"), resized_bytes(painting_bytes(5), (300, 240))
    )
    assert other.reason == ""
    assert ScrapedImage.objects.get(pk=other.image_id).near_duplicate_of is None


@pytest.mark.django_db
def test_bad_images_are_counted_by_reason_and_never_raise():
    job = make_job()
    truncated = painting_bytes(6)[:2000]
    assert ingest_image(job.pk, make_item("1"), truncated, "image/jpeg").reason == "truncated"
    assert ingest_image(job.pk, make_item("2"), b"<html>nope</html>", "image/jpeg").reason == "not_an_image"
    assert ingest_image(job.pk, make_item("3"), b"<html>again</html>", "image/jpeg").outcome == "rejected"

    job.refresh_from_db()
    assert job.counts == {"rejected": 3, "rejected:truncated": 1, "rejected:not_an_image": 2}
    assert ScrapedImage.objects.count() == 0
    # Staff read words in the log, never the counter's key.
    assert "rejected: incomplete image file https://www.artic.edu/iiif/2/1/" in job.log_tail
    assert "rejected:truncated" not in job.log_tail


@pytest.mark.django_db
def test_record_outcome_counts_non_image_outcomes_and_keeps_a_bounded_log():
    job = make_job()
    record_outcome(job.pk, "skipped", "not_public_domain", "aic:42 is not public domain")
    for n in range(250):
        record_outcome(job.pk, "failed", "http_500", f"attempt {n}")
    job.refresh_from_db()
    assert job.counts == {"skipped": 1, "skipped:not_public_domain": 1, "failed": 250, "failed:http_500": 250}
    lines = job.log_tail.splitlines()
    assert len(lines) == 200
    assert lines[-1].endswith("failed: HTTP status 500 attempt 249")
    assert job.processed == 251


@pytest.mark.django_db(transaction=True)
def test_counts_from_concurrent_pipelines_are_not_lost():
    job = make_job()

    def count(n: int) -> None:
        try:
            for _ in range(n):
                record_outcome(job.pk, "stored")
        finally:
            connection.close()

    threads = [threading.Thread(target=count, args=(10,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert CrawlJob.objects.get(pk=job.pk).counts == {"stored": 40}


@pytest.mark.django_db
def test_the_band_index_finds_every_hash_within_distance_six_and_nothing_further():
    from scraper.ingest import find_near_duplicate

    job = make_job()
    base = 0x0123456789ABCDEF

    def flip(bits: list[int]) -> str:
        value = base
        for bit in bits:
            value ^= 1 << bit
        return f"{value:016x}"

    def stored(phash: str, n: int) -> ScrapedImage:
        return ScrapedImage.objects.create(
            job=job,
            genre=job.genre,
            source="aic",
            width=9,
            height=9,
            image=f"x{n}.jpg",
            content_hash=f"{n:064x}",
            phash=phash,
        )

    # Six differing bits, one in each of six different bytes: only two bands still match.
    spread = stored(flip([0, 9, 18, 27, 36, 45]), 1)
    assert find_near_duplicate(job.genre_id, f"{base:016x}") == (spread.pk, 6)

    spread.delete()
    stored(flip([0, 9, 18, 27, 36, 45, 54]), 2)  # seven bits: too far
    assert find_near_duplicate(job.genre_id, f"{base:016x}") is None

    closest = stored(flip([1, 2]), 3)
    stored(flip([1, 2, 3, 4]), 4)
    assert find_near_duplicate(job.genre_id, f"{base:016x}") == (closest.pk, 2)
