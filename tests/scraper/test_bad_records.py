"""Records of the wrong shape, in a real crawl against the fake museum: each
is counted with its reason, none leaves a file behind, none hides another."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.urls import reverse

from scraper.ingest import ingest_image
from scraper.models import CrawlJob, ScrapedImage
from tests.scraper.conftest import AIC_IMAGE_PATH
from tests.scraper.factories import make_item, make_job, make_user, painting_bytes


def counts(job: CrawlJob) -> dict[str, int]:
    job.refresh_from_db()
    return job.counts


def media_files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} if root.exists() else set()


def referenced_files() -> set[str]:
    names = set()
    for image, thumbnail in ScrapedImage.objects.values_list("image", "thumbnail"):
        names |= {image, thumbnail} - {""}
    return names


@pytest.mark.slow
def test_bad_shapes_missing_and_repeated_ids_are_counted_and_leave_no_files(fake_museum, run_crawl, settings):
    fake_museum.add_aic("good", painting_bytes(1), id=1)
    fake_museum.add_aic(
        "object-title", painting_bytes(2), id=2, title={"en": "Sunset"}, artist_title=["A", "B"]
    )
    del fake_museum.add_aic("no-id", painting_bytes(3))["id"]
    fake_museum.add_aic("dict-id", painting_bytes(4), id=4)["id"] = {"value": 4}
    fake_museum.add_aic("first-5", painting_bytes(5), id=5)
    fake_museum.add_aic("second-5", painting_bytes(6), id=5)
    job = make_job("landscape", source="aic")

    assert run_crawl(job) == 0

    assert counts(job) == {
        "stored": 2,
        "skipped": 4,
        "skipped:bad_record": 1,
        "skipped:no_id": 2,
        "skipped:repeated_id": 1,
    }
    assert set(ScrapedImage.objects.values_list("source_id", flat=True)) == {"1", "5"}
    assert "title is dict" in job.log_tail
    assert "aic:5 was already seen in this crawl" in job.log_tail
    # The record of the wrong shape was refused before its image was fetched or stored.
    assert fake_museum.requested(AIC_IMAGE_PATH.format(image_id="object-title")) == 0
    assert media_files(settings.MEDIA_ROOT) == referenced_files()


@pytest.mark.slow
def test_a_met_answer_naming_another_object_is_counted_and_the_real_one_stored(fake_museum, run_crawl):
    fake_museum.add_met(437001, painting_bytes(11))
    fake_museum.add_met(437002, painting_bytes(12))
    fake_museum.met_objects["437001"]["objectID"] = 437002  # /objects/437001 claims to be 437002
    job = make_job("portrait", source="met")

    assert run_crawl(job) == 0

    assert counts(job) == {"stored": 1, "skipped": 1, "skipped:id_mismatch": 1}
    image = ScrapedImage.objects.get(source="met")
    assert image.source_id == "437002"
    assert image.image_url.endswith("/met-images/web-large/437002.jpg")  # the real 437002's picture
    assert "/objects/437001 answered object 437002" in job.log_tail


@pytest.mark.slow
def test_a_script_page_url_is_refused_before_it_is_stored(fake_museum, run_crawl):
    fake_museum.add_cma(700, painting_bytes(21))
    fake_museum.add_cma(701, painting_bytes(22), url="javascript:alert(document.cookie)")
    fake_museum.add_cma(702, painting_bytes(23), url=" JavaScript:alert(1)")
    job = make_job("flower-still-life", source="cma", query="flowers")

    assert run_crawl(job) == 0

    assert counts(job) == {"stored": 1, "skipped": 2, "skipped:bad_url": 2}
    assert list(ScrapedImage.objects.values_list("source_id", "page_url")) == [
        ("700", "https://clevelandart.org/art/1916.700")
    ]
    assert fake_museum.requested("/cma-images/701/web.jpg") == 0


@pytest.mark.django_db
def test_ingest_checks_the_shape_before_storing_anything(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    job = make_job()
    for source_id, fields in [
        ("1", {"title": {"en": "x"}}),
        ("2", {"artist": ["a", "b"]}),
        ("", {}),
        ("3", {"image_url": "file:///etc/passwd"}),
        ("4", {"page_url": "javascript:alert(1)"}),
    ]:
        result = ingest_image(job.pk, make_item(source_id, **fields), painting_bytes(30))
        assert result.outcome == "skipped", (source_id, fields)
    assert ScrapedImage.objects.count() == 0
    assert media_files(settings.MEDIA_ROOT) == set()
    assert counts(job) == {
        "skipped": 5,
        "skipped:bad_record": 2,
        "skipped:no_id": 1,
        "skipped:bad_url": 2,
    }
    # Numbers are text enough (a year as a number); NUL never reaches the database.
    stored = ingest_image(job.pk, make_item("5", date=1889, title="Star\x00ry night"), painting_bytes(31))
    image = ScrapedImage.objects.get(pk=stored.image_id)
    assert (image.date_text, image.title) == ("1889", "Starry night")


@pytest.mark.django_db
def test_a_script_url_stored_before_the_check_is_never_rendered_as_a_link(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    job = make_job()
    image_id = ingest_image(job.pk, make_item("9"), painting_bytes(40)).image_id
    ScrapedImage.objects.filter(pk=image_id).update(page_url="javascript:alert(1)")
    client.force_login(make_user("carla", "Curators"))

    for url in (
        reverse("scraper:review"),
        reverse("admin:scraper_scrapedimage_change", args=[image_id]),
        reverse("admin:scraper_scrapedimage_changelist"),
    ):
        html = client.get(url).content.decode()
        assert "javascript:" not in html.lower(), url
        assert ">9<" in html or "aic:9" in html or " 9<" in html, url  # the id is still shown, as text
