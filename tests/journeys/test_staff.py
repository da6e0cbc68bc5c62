"""The staff journey in headless Chromium, with a real worker process: log in →
crawl the sample museum from the admin and see it finish → approve the images
in bulk → start a tiny training run and watch it progress → publish its
checkpoint → generate artworks → see them in the room."""

from __future__ import annotations

import re

import pytest
from django.core.cache import cache

from gallery.context_processors import DEMO_CACHE_KEY
from gallery.models import Artwork, Genre
from scraper.models import CrawlJob, ScrapedImage
from scraper.samplemuseum.server import start_sample_museum
from tests.conftest import wait_for
from training.models import Checkpoint, TrainingRun

from .conftest import log_in, open_page, user_in_group

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CRAWL_LIMIT = 8
TARGET_KIMG = 0.16  # 40 steps of 4 images: seconds on one CPU core


@pytest.fixture
def sample_museum():
    server, base_url = start_sample_museum(per_genre=12, image_size=96)
    yield base_url
    server.stop()


@pytest.fixture
def worker(celery_worker_factory, settings, tmp_path, sample_museum):
    """A worker for every queue, as `make run` starts them, pointed at this test's
    sample museum, media and run folders."""
    from museum.celery import app

    app.control.purge()  # nothing queued by earlier tests may reach this worker
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TRAINING_WORK_DIR = tmp_path / "runs"
    settings.TORCH_DEVICE = "cpu"
    settings.TRAINING_MIN_IMAGES = 4
    return celery_worker_factory(
        queues="default,crawl,gpu",
        extra_env={
            "SCRAPER_SAMPLE_URL": sample_museum,
            # The sample source's own origin is allowed without the test switch.
            "SCRAPER_ALLOW_LOOPBACK": None,
            "AAG_TRAINING_WORK_DIR": str(settings.TRAINING_WORK_DIR),
            "TORCH_DEVICE": "cpu",
            # Two cores are shared by everyone: one thread per worker.
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
        },
    )


def reload_until(page, predicate, timeout: float, what: str):
    """Reload the page (as a person watching it would) until ``predicate(page)`` is truthy."""

    def check():
        page.reload()
        return predicate(page)

    return wait_for(check, timeout=timeout, interval=0.5, what=what)


def shown_kimg(page) -> float:
    """The kimg done as the run page shows it ("0.040 / 0.16 kimg")."""
    return float(page.inner_text(".run-kimg").split("/")[0])


def test_staff_crawl_curate_train_publish_and_hang_new_paintings(browser, live_server, worker):
    room = Genre.objects.get(slug="landscape")
    stella = user_in_group("stella", "Staff")
    visit = open_page(browser, live_server.url, "staff")
    page = visit.page
    log_in(visit, "stella")
    visit.assert_clean("admin-index")

    # 1. A crawl of the sample museum, started from the admin's form.
    page.get_by_role("link", name="Crawl jobs").first.click()
    page.get_by_role("link", name=re.compile("Add crawl job", re.IGNORECASE)).click()
    page.wait_for_url("**/admin/scraper/crawljob/add/")
    page.select_option("#id_genre", label=room.display_name)
    page.select_option("#id_source", label="Sample Museum (synthetic, offline)")
    page.fill("#id_item_limit", str(CRAWL_LIMIT))
    visit.assert_clean("crawl-form")
    page.click("input[name=_save]")
    page.wait_for_url("**/admin/scraper/crawljob/*/change/")
    job = CrawlJob.objects.get()
    assert (job.source, job.genre, job.item_limit, job.started_by) == ("sample", room, CRAWL_LIMIT, stella)
    assert "queued" in page.inner_text(".messagelist")
    reload_until(
        page,
        lambda p: p.inner_text(".field-status .readonly").strip() in ("succeeded", "failed", "cancelled"),
        timeout=180,
        what="the crawl to finish on its page",
    )
    job.refresh_from_db()
    assert job.status == "succeeded", (job.error, job.log_tail, worker.log()[-3000:])
    assert job.counts == {"stored": CRAWL_LIMIT}
    assert f"{CRAWL_LIMIT} / {CRAWL_LIMIT}" in page.inner_text(".field-progress")
    visit.assert_clean("crawl-finished")
    crawled = ScrapedImage.objects.filter(job=job)
    assert crawled.count() == CRAWL_LIMIT
    assert set(crawled.values_list("source", "status")) == {("sample", "pending")}

    # 2. Approve them all at once: the changelist filtered to pending landscapes.
    visit.go("/admin/scraper/scrapedimage/")
    filters = page.locator("#changelist-filter")
    filters.get_by_role("link", name=room.display_name).click()
    page.wait_for_url("**genre__id__exact=*")
    filters.get_by_role("link", name="pending", exact=True).click()
    page.wait_for_url("**status__exact=pending*")
    assert page.locator("#result_list tbody tr").count() == CRAWL_LIMIT
    page.check("#action-toggle")
    page.select_option("select[name=action]", "approve_selected")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert f"Approved {CRAWL_LIMIT} images." in page.inner_text(".messagelist")
    assert set(crawled.values_list("status", "reviewed_by")) == {("approved", stella.pk)}
    visit.assert_clean("images-approved")

    # 3. A tiny training run from the start form (the smoke preset, shortened).
    visit.go("/admin/training/trainingrun/")
    page.get_by_role("link", name=re.compile("Add training run", re.IGNORECASE)).click()
    page.wait_for_url("**/admin/training/trainingrun/start/**")
    page.get_by_role("link", name=re.compile("^Smoke test")).click()
    page.wait_for_url("**preset=smoke")
    page.select_option("#id_genre", label=f"{room.display_name}: {CRAWL_LIMIT} approved images")
    # The chosen genre's own "also paint" box is ticked and fixed: it is one of the rooms anyway.
    own = page.locator(f"input[name=also][value='{room.pk}']")
    assert own.is_checked() and own.is_disabled()
    assert page.locator("input[name=also]:disabled").count() == 1
    assert page.input_value("#id_resolution") == "32"
    page.fill("#id_total_kimg", str(TARGET_KIMG))
    page.fill("#id_tick_kimg", "0.04")
    page.fill("#id_checkpoint_kimg", "0.08")
    visit.assert_clean("run-form")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_url("**/admin/training/trainingrun/*/change/")
    run = TrainingRun.objects.get()
    assert (run.genre, run.started_by) == (room, stella)
    assert run.status in ("queued", "running")  # the worker may have claimed it already
    assert run.config["network"]["resolution"] == 32 and run.config["total_kimg"] == TARGET_KIMG
    assert run.dataset.image_count == CRAWL_LIMIT

    # Watch it: reload until the page shows kimg done, then until it has succeeded.
    seen: list[float] = []

    def ended(p) -> bool:
        return p.inner_text(".run-status") in ("succeeded", "failed", "cancelled")

    def progressed(p) -> bool:
        seen.append(shown_kimg(p))
        return seen[-1] > 0 or ended(p)

    reload_until(page, progressed, timeout=300, what="the run page to show progress")
    visit.assert_clean("run-progress")
    reload_until(
        page, lambda p: progressed(p) and ended(p), timeout=300, what="the run to finish on its page"
    )
    run.refresh_from_db()
    assert run.status == "succeeded", (run.error, worker.log()[-3000:])
    assert seen == sorted(seen) and seen[-1] == pytest.approx(TARGET_KIMG), seen
    assert run.kimg_done == pytest.approx(TARGET_KIMG)
    assert page.locator(".run-samples img").count() == run.samples.count() >= 4
    visit.assert_clean("run-succeeded")

    # 4. Publish its last checkpoint (without the automatic first batch).
    checkpoint = run.checkpoints.order_by("-kimg").first()
    assert checkpoint.kimg == pytest.approx(TARGET_KIMG)
    row = page.locator(".run-checkpoints tbody tr").last
    row.locator("input[name=first_batch]").uncheck()
    row.get_by_role("button", name="Publish").click()
    # A model trained for seconds fails its quality report: the admin shows
    # the report and asks before the room is painted from it.
    page.wait_for_selector(".publish-compare")
    assert "Its quality report fails" in page.inner_text(".publish-warnings")
    visit.assert_clean("publish-confirmation")
    page.get_by_role("button", name="Publish anyway").click()
    page.wait_for_selector(".messagelist")
    assert f"now paints the {room.display_name} room" in page.inner_text(".messagelist")
    checkpoint.refresh_from_db()
    assert checkpoint.published and checkpoint.published_by == stella and checkpoint.publish_warnings
    assert list(Checkpoint.objects.filter(published=True)) == [checkpoint]
    assert Artwork.objects.count() == 0

    # 5. Ask it for three paintings; a worker paints them.
    row = page.locator(".run-checkpoints tbody tr").last
    generate = row.locator("form[action$='/generate/']")
    generate.locator("input[name=count]").fill("3")
    generate.get_by_role("button", name="Generate artworks").click()
    page.wait_for_selector(".messagelist")
    assert "3 paintings" in page.inner_text(".messagelist")
    visit.assert_clean("generation-queued")
    wait_for(lambda: Artwork.objects.count() == 3, timeout=180, what="three new artworks")
    artworks = list(Artwork.objects.order_by("seed"))
    assert [(a.checkpoint_id, a.published, a.genre_id) for a in artworks] == [
        (checkpoint.pk, True, room.pk)
    ] * 3
    assert len({a.seed for a in artworks}) == 3

    # 6. They hang in the room, which says its model learned from a synthetic collection.
    cache.delete(DEMO_CACHE_KEY)  # the notice is cached for a minute; earlier tests may have set it
    visit.go(room.get_absolute_url())
    assert page.locator(".wall__item").count() == 3
    assert "synthetic sample collection" in page.inner_text(".site-footer")
    for artwork in artworks:
        assert page.locator(f".wall__item a[href='{artwork.get_absolute_url()}']").count() == 1
    visit.assert_clean("room")
    page.locator(".wall__item a").first.click()
    page.wait_for_url("**/artworks/*/")
    assert f"training run {run.pk}" in page.inner_text(".provenance")
    visit.assert_clean("artwork")
    page.close()
