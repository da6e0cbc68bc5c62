"""Staff in headless Chromium: a run's quality charts, a checkpoint's report,
and the confirmation before a failing checkpoint paints a room (screenshots
under artifacts/screenshots/training/)."""

from __future__ import annotations

import pytest

from gallery import services as gallery_services
from gallery.models import Genre
from tests.journeys.conftest import log_in, open_page
from tests.journeys.conftest import user_in_group as journey_user
from tests.training.runs_factories import approved_images, quality_report, tiny_overrides
from tests.training.test_checkpoint_quality import FAILING, checkpoint
from training import services
from training.models import TrainingRun

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def measured_run(settings, tmp_path) -> TrainingRun:
    settings.MEDIA_ROOT = tmp_path / "media"
    approved_images("portrait", 16)
    run = services.start_run(Genre.objects.get(slug="portrait"), "smoke", tiny_overrides(total_kimg=0.6))
    history = [
        {"kimg": round(0.04 * i, 2), "loss_G": 2 - 0.05 * i, "loss_D": 1 + 0.02 * i, "augment_p": 0.01 * i}
        for i in range(1, 16)
    ]
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED, kimg_done=0.6, history=history
    )
    good = checkpoint(run, 0.2, quality_report(kimg=0.2))
    checkpoint(run, 0.4, quality_report(kimg=0.4, swd=11.5, recall=0.6, diversity=0.9))
    checkpoint(run, 0.6, FAILING)
    gallery_services.publish_checkpoint(good)
    run.refresh_from_db()
    return run


def test_staff_see_quality_charts_and_confirm_publishing_a_failing_checkpoint(
    browser, live_server, measured_run
):
    stella = journey_user("stella", "Staff")
    visit = open_page(browser, live_server.url, "quality", folder="training")
    page = visit.page
    log_in(visit, "stella", f"/admin/training/trainingrun/{measured_run.pk}/change/")

    swd = page.locator("svg[aria-label='Quality: SWD and its floor']")
    assert swd.locator("polyline").count() == 2 and "No data yet." not in swd.inner_html()
    shares = page.locator("svg[aria-label='Quality: precision, recall and diversity']")
    assert shares.locator("polyline").count() == 3
    assert "recall (0.04321)" in shares.inner_html()
    rows = page.locator(".run-checkpoints tbody tr")
    assert [rows.nth(i).locator(".run-quality strong").inner_text() for i in range(3)] == [
        "passes",
        "passes",
        "fails",
    ]
    page.locator(".run-charts").scroll_into_view_if_needed()
    visit.assert_clean("run-quality-charts")

    # The failing checkpoint's own page: rounded figures and why it fails.
    rows.nth(2).locator("td a").first.click()
    page.wait_for_url("**/admin/training/checkpoint/*/change/")
    report = page.locator(".quality-report")
    assert "Fails the quality gate" in report.inner_text() and "mode collapse" in report.inner_text()
    assert "0.043" in report.inner_text() and "0.04321" not in report.inner_text()
    visit.assert_clean("checkpoint-report")

    # Publishing it asks first, with both reports side by side.
    visit.go(f"/admin/training/trainingrun/{measured_run.pk}/change/")
    page.locator(".run-checkpoints tbody tr").nth(2).get_by_role("button", name="Publish").click()
    page.wait_for_selector(".publish-compare")
    table = page.locator(".publish-compare")
    first = measured_run.checkpoints.get(kimg=0.2)
    assert f"Published now ({first})".upper() in table.inner_text()  # admin headers are upper case
    assert table.locator("td.worse").count() >= 3  # recall, diversity, near duplicates
    visit.assert_clean("publish-confirmation")
    page.get_by_role("button", name="Publish anyway").click()
    page.wait_for_selector(".messagelist")
    assert "now paints the Portraits room" in page.inner_text(".messagelist")
    published = gallery_services.published_checkpoint(measured_run.genre)
    assert published.kimg == pytest.approx(0.6) and published.published_by == stella
    visit.assert_clean("published-anyway")
