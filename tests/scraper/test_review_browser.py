"""The focused review page in a real browser: a curator approves with a key."""

from __future__ import annotations

import pytest

from scraper.ingest import ingest_image
from scraper.models import ScrapedImage
from tests.scraper.factories import make_item, make_job, make_user, painting_bytes


@pytest.fixture
def browser_page(browser):
    page = browser.new_page()
    page.set_default_timeout(20_000)
    return page


@pytest.mark.browser
def test_a_curator_approves_rejects_and_skips_with_the_keyboard(
    live_server, settings, tmp_path, browser_page
):
    settings.MEDIA_ROOT = tmp_path / "media"
    job = make_job("landscape")
    first, second, third = (
        ingest_image(job.pk, make_item(str(n), title=f"Harbour {n}"), painting_bytes(20 + n)).image_id
        for n in range(3)
    )
    make_user("carla", "Curators")
    page = browser_page

    page.goto(f"{live_server.url}/admin/login/?next=/admin/scraper/review/%3Fgenre%3Dlandscape")
    page.fill("#id_username", "carla")
    page.fill("#id_password", "pw-carla")
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/scraper/review/?genre=landscape")

    assert "Harbour 0" in page.inner_text(".review-main figcaption")
    assert "3 images pending" in page.inner_text("[data-testid=pending-count]")
    # The painting itself loaded (served from media), at a size worth judging.
    assert page.eval_on_selector("#review-image", "img => img.complete && img.naturalWidth") == 320
    assert "A approve" in page.inner_text(".review-keys")

    page.keyboard.press("a")
    page.wait_for_url(f"**after={first}**")
    assert ScrapedImage.objects.get(pk=first).status == "approved"
    assert ScrapedImage.objects.get(pk=first).reviewed_by.username == "carla"
    assert "Harbour 1" in page.inner_text(".review-main figcaption")
    assert "2 images pending" in page.inner_text("[data-testid=pending-count]")

    page.keyboard.press("2")  # second reason: wrong genre
    page.keyboard.press("r")
    page.wait_for_url(f"**after={second}**")
    rejected = ScrapedImage.objects.get(pk=second)
    assert (rejected.status, rejected.rejection_reason) == ("rejected", "wrong_genre")

    page.keyboard.press("s")
    page.wait_for_url(f"**after={third}**")
    assert ScrapedImage.objects.get(pk=third).status == "pending"
    # Skipped images come round again: it is the only one left.
    assert "Harbour 2" in page.inner_text(".review-main figcaption")
    assert "1 image pending" in page.inner_text("[data-testid=pending-count]")
