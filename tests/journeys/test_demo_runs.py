"""The run page of a shipped demo model, as staff see it after `make run`:
every figure on it agrees with the others."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from gallery.management.commands.demo import SHIPPED_WORKER, Command
from gallery.models import Genre
from training import services
from training.engine.checkpoint import checkpoint_metadata

from .conftest import log_in, open_page, user_in_group

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SHIPPED = Path(__file__).resolve().parents[2] / "training" / "demo"


def test_a_shipped_demo_run_page_shows_figures_that_agree(browser, live_server, tmp_path):
    # A checkpoint shipped without its run's statistics (dropped in by hand): the page says so.
    path = tmp_path / "portrait-64.pt"
    shutil.copy(SHIPPED / "portrait-64.pt", path)
    assert not services.stats_file_for(path).exists()
    meta = checkpoint_metadata(path)
    checkpoint = Command().register_shipped(Genre.objects.get(slug="portrait"), path)
    run = checkpoint.run
    user_in_group("staff", "Staff")
    watched = open_page(browser, live_server.url, "demo-run")
    log_in(watched, "staff")

    watched.go(f"/admin/training/trainingrun/{run.pk}/change/")
    page = watched.page
    kimg, step = float(meta["kimg"]), int(meta["step"])
    assert page.locator(".run-status").inner_text() == "succeeded"
    # It ended where it was trained to: all of it, not 40 of a planned 5000.
    assert page.locator(".run-kimg").inner_text() == f"{kimg:.3f} / {kimg} kimg"
    assert page.locator(".run-progress").get_attribute("value") == "100.0"
    text = page.locator("#content-main").inner_text()
    assert f"{step:,} ({step:,} trained over all attempts)" in text
    # No chart claims there is no data yet: the page says why there is nothing to chart.
    assert "No data yet" not in text
    assert "no training statistics came with its checkpoint" in text
    assert "No sample grid yet" not in text
    assert f"{kimg:g}" in page.locator(".run-checkpoints").inner_text()
    watched.assert_clean("shipped-run")


def test_a_shipped_checkpoint_with_its_statistics_is_charted(tmp_path):
    """Shipped with <name>.stats.jsonl (make_checkpoints.sh copies the run's),
    the registered run's history is those statistics, up to the checkpoint."""
    path = tmp_path / "portrait-64.pt"
    shutil.copy(SHIPPED / "portrait-64.pt", path)
    meta = checkpoint_metadata(path)
    kimg, step = float(meta["kimg"]), int(meta["step"])
    # Four ticks up to the checkpoint; a fifth beyond it belongs to training after it was saved.
    ticks = [
        {
            "kimg": kimg * n / 4,
            "step": step * n // 4,
            "loss_G": 2.0 / n,
            "loss_D": 1.0 + n / 10,
            "augment_p": 0.0,
        }
        for n in range(1, 6)
    ]
    services.stats_file_for(path).write_text("".join(json.dumps(t) + "\n" for t in ticks))

    checkpoint, created = services.register_trained_checkpoint(
        Genre.objects.get(slug="portrait"), path, worker=SHIPPED_WORKER
    )

    assert created
    run = checkpoint.run
    assert [h["kimg"] for h in run.history] == [kimg * n / 4 for n in range(1, 5)]
    assert run.history[0]["loss_G"] == 2.0 and run.latest_stats["step"] == step
    checkpoint.file.delete(save=False)
