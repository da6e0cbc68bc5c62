"""The curator's journey in headless Chromium: log in → the review queue →
approve three with the keyboard → reject one with a reason → bulk-approve a
filtered set in the changelist → no way into the training pages."""

from __future__ import annotations

import pytest

from gallery.models import Genre
from scraper.ingest import ingest_image
from scraper.models import ScrapedImage
from tests.scraper.factories import make_item, make_job, painting_bytes

from .conftest import log_in, open_page, user_in_group

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def crawled(genre_slug: str, count: int, first_seed: int) -> list[int]:
    """``count`` pending images of a genre, through the real ingest (checks, hashes, thumbnails)."""
    job = make_job(genre_slug)
    ids = []
    for n in range(count):
        seed = first_seed + n
        item = make_item(f"{genre_slug}-{seed}", genre_slug, title=f"{genre_slug.title()} {n}")
        result = ingest_image(job.pk, item, painting_bytes(seed))
        assert result.outcome == "stored", result
        ids.append(result.image_id)
    return ids


def statuses(ids: list[int]) -> list[str]:
    by_id = dict(ScrapedImage.objects.filter(pk__in=ids).values_list("pk", "status"))
    return [by_id[pk] for pk in ids]


def test_a_curator_reviews_by_keyboard_approves_a_filtered_set_and_cannot_train(
    browser, live_server, settings, tmp_path
):
    settings.MEDIA_ROOT = tmp_path / "media"
    landscapes = crawled("landscape", 5, first_seed=10)
    portraits = crawled("portrait", 4, first_seed=40)
    cityscapes = crawled("cityscape", 2, first_seed=70)
    carla = user_in_group("carla", "Curators")
    visit = open_page(browser, live_server.url, "curator")
    page = visit.page

    log_in(visit, "carla", "/admin/scraper/review/%3Fgenre%3Dlandscape")
    assert "5 images pending" in page.inner_text("[data-testid=pending-count]")
    assert "Landscape 0" in page.inner_text(".review-main figcaption")
    visit.assert_clean("review-queue")

    # Three approvals with the A key, each recorded before the next image shows.
    for n, pk in enumerate(landscapes[:3]):
        page.keyboard.press("a")
        page.wait_for_url(f"**after={pk}**")
        assert statuses(landscapes) == ["approved"] * (n + 1) + ["pending"] * (4 - n)
        assert ScrapedImage.objects.get(pk=pk).reviewed_by == carla
        assert f"Landscape {n + 1}" in page.inner_text(".review-main figcaption")
    assert "2 images pending" in page.inner_text("[data-testid=pending-count]")
    visit.assert_clean("approved-three")

    # Reject the fourth: choose reason 3 (poor quality) with its number key, then R.
    page.keyboard.press("3")
    page.keyboard.press("r")
    page.wait_for_url(f"**after={landscapes[3]}**")
    rejected = ScrapedImage.objects.get(pk=landscapes[3])
    assert (rejected.status, rejected.rejection_reason, rejected.reviewed_by) == (
        "rejected",
        "poor_quality",
        carla,
    )
    assert statuses(landscapes) == ["approved"] * 3 + ["rejected", "pending"]
    assert "1 image pending" in page.inner_text("[data-testid=pending-count]")
    visit.assert_clean("rejected-one")

    # The changelist, filtered to pending portraits: select all on the page, approve.
    visit.go("/admin/scraper/scrapedimage/")
    filters = page.locator("#changelist-filter")
    filters.get_by_role("link", name=Genre.objects.get(slug="portrait").display_name).click()
    page.wait_for_url("**genre__id__exact=*")
    filters.get_by_role("link", name="pending", exact=True).click()
    page.wait_for_url("**status__exact=pending*")
    assert page.locator("#result_list tbody tr").count() == len(portraits)
    visit.assert_clean("changelist-filtered")
    page.check("#action-toggle")
    page.select_option("select[name=action]", "approve_selected")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "Approved 4 images." in page.inner_text(".messagelist")
    assert statuses(portraits) == ["approved"] * 4
    assert all(image.reviewed_by == carla for image in ScrapedImage.objects.filter(pk__in=portraits))
    # Nothing outside the filter changed.
    assert statuses(cityscapes) == ["pending"] * 2
    assert statuses(landscapes) == ["approved"] * 3 + ["rejected", "pending"]
    visit.assert_clean("bulk-approved")

    # Training is staff work: not on the admin index, and its pages refuse her.
    visit.go("/admin/")
    assert page.locator("#content-main").get_by_text("Training runs").count() == 0
    assert page.locator("#content-main").get_by_text("Scraped images").count() == 1
    visit.assert_clean("admin-index")
    for path in (
        "/admin/training/trainingrun/",
        "/admin/training/trainingrun/start/",
        "/admin/training/checkpoint/",
        "/admin/scraper/crawljob/add/",
    ):
        response = page.goto(live_server.url + path)
        assert response.status == 403, f"{path} answered {response.status} to a curator"
        # A page that says why and where to go, not a bare error.
        assert "You may not open this page." in page.locator("h1").inner_text()
    visit.shot("training-refused")
    page.get_by_role("link", name="Back to the admin").click()
    page.wait_for_url("**/admin/")
    page.close()
