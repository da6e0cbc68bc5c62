"""The curation queue and the crawl admin through real requests."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from gallery.models import Genre
from scraper.ingest import ingest_image
from scraper.models import CrawlJob, ScrapedImage
from tests.scraper.factories import make_item, make_job, make_user, painting_bytes, resized_bytes

CHANGELIST = "admin:scraper_scrapedimage_changelist"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture
def images(db) -> list[ScrapedImage]:
    job = make_job()
    ids = [ingest_image(job.pk, make_item(str(n)), painting_bytes(n)).image_id for n in range(4)]
    near = ingest_image(job.pk, make_item("copy"), resized_bytes(painting_bytes(0), (300, 240))).image_id
    return list(ScrapedImage.objects.filter(pk__in=[*ids, near]).order_by("id"))


@pytest.fixture
def curator_client(client, db):
    client.force_login(make_user("carla", "Curators"))
    return client


def test_the_queue_shows_thumbnails_source_licence_and_the_near_duplicate(curator_client, images):
    response = curator_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    html = response.content.decode()
    for image in images:
        # The queue shows each image's small copy, made on ingest.
        assert image.thumbnail.name.startswith("scraped/thumbs/")
        assert image.thumbnail.storage.exists(image.thumbnail.name)
        assert f'src="{image.thumbnail.url}" width="160"' in html, re.findall(r"<img[^>]*>", html)
    assert "Art Institute of Chicago" in html and "CC0" in html and "Claude Monet" in html
    assert "https://www.artic.edu/artworks/copy" in html
    assert f"#{images[0].pk} (distance" in html  # the copy points at its original


def test_filters_for_near_duplicates_hints_and_status(curator_client, images):
    url = reverse(CHANGELIST)
    copy = images[-1]
    response = curator_client.get(url, {"near_duplicate": "yes"})
    assert [row.pk for row in response.context["cl"].result_list] == [copy.pk]

    ScrapedImage.objects.filter(pk=images[1].pk).update(quality_hints=["blurry", "very_dark"])
    response = curator_client.get(url, {"hint": "blurry"})
    assert [row.pk for row in response.context["cl"].result_list] == [images[1].pk]

    ScrapedImage.objects.filter(pk=images[2].pk).update(status="approved")
    response = curator_client.get(url, {"status__exact": "approved"})
    assert [row.pk for row in response.context["cl"].result_list] == [images[2].pk]

    landscape = Genre.objects.get(slug="landscape")
    response = curator_client.get(url, {"genre__id__exact": landscape.pk, "source__exact": "aic"})
    assert len(response.context["cl"].result_list) == len(images)


def test_bulk_approve_through_the_changelist_action(curator_client, images):
    chosen = images[:3]
    response = curator_client.post(
        reverse(CHANGELIST),
        {"action": "approve_selected", "_selected_action": [image.pk for image in chosen]},
        follow=True,
    )
    assert response.status_code == 200
    assert "Approved 3 images." in response.content.decode()
    for image in chosen:
        image.refresh_from_db()
        assert image.status == "approved"
        assert image.reviewed_by.username == "carla" and image.reviewed_at is not None
    assert ScrapedImage.objects.filter(status="pending").count() == len(images) - 3


def test_bulk_reject_asks_for_a_reason_then_records_it(curator_client, images):
    chosen = [images[1].pk, images[-1].pk]
    url = reverse(CHANGELIST)
    first = curator_client.post(url, {"action": "reject_selected", "_selected_action": chosen})
    assert first.status_code == 200
    html = first.content.decode()
    assert 'name="reason"' in html and "Reject these 2 images?" in html
    assert ScrapedImage.objects.filter(status="rejected").count() == 0  # nothing decided yet

    missing_reason = curator_client.post(
        url, {"action": "reject_selected", "_selected_action": chosen, "apply": "1", "reason": ""}
    )
    assert missing_reason.status_code == 200
    assert ScrapedImage.objects.filter(status="rejected").count() == 0

    done = curator_client.post(
        url,
        {
            "action": "reject_selected",
            "_selected_action": chosen,
            "apply": "1",
            "reason": "duplicate",
            "note": "same as the Louvre copy",
        },
        follow=True,
    )
    assert "Rejected 2 images." in done.content.decode()
    rejected = ScrapedImage.objects.filter(status="rejected").order_by("id")
    assert [image.pk for image in rejected] == chosen
    assert {image.rejection_reason for image in rejected} == {"duplicate: same as the Louvre copy"}


def test_the_change_page_shows_the_near_duplicate_beside_the_image(curator_client, images):
    copy = images[-1]
    response = curator_client.get(reverse("admin:scraper_scrapedimage_change", args=[copy.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert copy.image.url in html and images[0].image.url in html
    assert f"resembles #{images[0].pk}" in html
    original = curator_client.get(reverse("admin:scraper_scrapedimage_change", args=[images[0].pk]))
    assert f"#{copy.pk} resembles this" in original.content.decode()


def test_staff_start_a_crawl_from_the_admin_and_watch_it(client, db, django_capture_on_commit_callbacks):
    staff = make_user("sam", "Staff")
    client.force_login(staff)
    landscape = Genre.objects.get(slug="landscape")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(
            reverse("admin:scraper_crawljob_add"),
            {"genre": landscape.pk, "source": "aic", "query": "  river ", "item_limit": 25},
        )
    job = CrawlJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:scraper_crawljob_change", args=[job.pk])
    assert (job.status, job.query, job.item_limit, job.started_by) == ("queued", "river", 25, staff)
    assert len(callbacks) == 1  # sent to the crawl queue only after the commit

    detail = client.get(response["Location"]).content.decode()
    assert 'http-equiv="refresh"' in detail  # refreshes while queued or running
    assert "Cancel this crawl" in detail

    client.post(reverse("admin:scraper_crawljob_cancel", args=[job.pk]))
    job.refresh_from_db()
    assert job.status == "cancelled"  # a queued job stops at once
    assert 'http-equiv="refresh"' not in client.get(response["Location"]).content.decode()


def test_the_crawl_detail_shows_counts_per_outcome_and_the_log(client, db):
    client.force_login(make_user("sam", "Staff"))
    job = make_job(status="running", item_limit=10)
    ingest_image(job.pk, make_item("1"), painting_bytes(1))
    ingest_image(job.pk, make_item("2"), b"<html>", "image/jpeg")
    html = client.get(reverse("admin:scraper_crawljob_change", args=[job.pk])).content.decode()
    assert "<th>rejected: not an image</th><td>1</td>" in html
    assert "<th>stored</th><td>1</td>" in html
    assert "https://www.artic.edu/iiif/2/2/full/843,/0/default.jpg" in html  # in the log tail
    changelist = client.get(reverse("admin:scraper_crawljob_changelist")).content.decode()
    assert '<progress max="100" value="20">' in changelist


def test_the_cancel_action_asks_running_crawls_to_stop(client, db):
    client.force_login(make_user("sam", "Staff"))
    running, finished = make_job(status="running"), make_job(status="succeeded")
    client.post(
        reverse("admin:scraper_crawljob_changelist"),
        {"action": "cancel_selected", "_selected_action": [running.pk, finished.pk]},
    )
    running.refresh_from_db()
    finished.refresh_from_db()
    assert (running.status, finished.status) == ("cancelling", "succeeded")

    # A second cancel is the way out for a crawl whose worker died.
    client.post(
        reverse("admin:scraper_crawljob_changelist"),
        {"action": "cancel_selected", "_selected_action": [running.pk]},
    )
    running.refresh_from_db()
    assert running.status == "cancelled" and "Cancelled twice" in running.error


def test_the_review_page_filters_by_genre_and_says_when_the_queue_is_empty(curator_client, images):
    review = reverse("scraper:review")
    response = curator_client.get(review, {"genre": "landscape"})
    html = response.content.decode()
    assert f"{len(images)} images pending" in html
    assert images[0].image.url in html  # the first pending image, full size
    assert f"#{images[-1].pk} resembles this" in html  # its near duplicate, beside it

    empty = curator_client.get(review, {"genre": "portrait"}).content.decode()
    assert "0 images pending" in empty and "Nothing left to review here" in empty

    unknown = curator_client.get(review, {"genre": "seascape"}, follow=True).content.decode()
    assert "There is no genre “seascape”" in unknown
    assert f"{len(images)} images pending" in unknown


def test_crawl_counts_read_as_words_not_internal_keys(client, db):
    client.force_login(make_user("sam", "Staff"))
    job = make_job(status="succeeded", item_limit=10)
    job.counts = {
        "stored": 3,
        "stored:near_duplicate": 1,
        "rejected": 2,
        "rejected:decompression_bomb": 1,
        "rejected:some_new_reason": 1,
        "failed": 1,
        "failed:http_503": 1,
        "skipped": 1,
        "skipped:not_public_domain": 1,
    }
    job.save()

    detail = client.get(reverse("admin:scraper_crawljob_change", args=[job.pk])).content.decode()
    for shown in (
        "<th>stored: resembles an image already stored</th><td>1</td>",
        "<th>rejected: too many pixels to decode safely</th><td>1</td>",
        "<th>rejected: some new reason</th><td>1</td>",
        "<th>failed: HTTP status 503</th><td>1</td>",
        "<th>skipped: not public domain</th><td>1</td>",
    ):
        assert shown in detail
    for key in job.counts:
        if ":" in key:
            assert f">{key}<" not in detail
    changelist = client.get(reverse("admin:scraper_crawljob_changelist")).content.decode()
    assert "failed 1, rejected 2, skipped 1, stored 3" in changelist

    japanese = client.get(
        reverse("admin:scraper_crawljob_change", args=[job.pk]), HTTP_ACCEPT_LANGUAGE="ja"
    ).content.decode()
    assert "resembles an image already stored" not in japanese


def test_starting_a_crawl_says_which_crawl_once(client, db, django_capture_on_commit_callbacks):
    client.force_login(make_user("sam", "Staff"))
    landscape = Genre.objects.get(slug="landscape")
    with django_capture_on_commit_callbacks():
        response = client.post(
            reverse("admin:scraper_crawljob_add"),
            {"genre": landscape.pk, "source": "sample", "query": "", "item_limit": 5},
            follow=True,
        )
    job = CrawlJob.objects.get()
    text = [str(m) for m in response.context["messages"]]

    assert text == [
        f"Crawl {job.pk} (Sample Museum (synthetic, offline), {landscape.display_name}) is queued. "
        "This page refreshes while it runs."
    ]
