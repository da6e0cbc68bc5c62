"""A checkpoint's quality report in the admin: its page, the run's charts, and
the confirmation that publishing a failing or worse checkpoint asks for."""

from __future__ import annotations

import html as html_module
import re

import pytest
from django.urls import reverse

from gallery import services as gallery_services
from gallery.models import Genre
from tests.training.runs_factories import (
    approved_images,
    quality_report,
    run_storage,  # noqa: F401 - a fixture, used through pytestmark
    tiny_overrides,
    user_in_group,
)
from training import services
from training.models import Checkpoint, TrainingRun

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_storage")]

FAILING = quality_report(
    passed=False,
    kimg=0.4,
    recall=0.04321,
    diversity=0.12345,
    near_duplicate_rate=0.875,
    reasons=[
        "mode collapse: 88% of the 64 generated images have a near-duplicate among them",
        "low recall 0.04: the generated images cover only part of the collection's variety",
    ],
)


@pytest.fixture
def run() -> TrainingRun:
    approved_images("portrait", 16)
    run = services.start_run(Genre.objects.get(slug="portrait"), "smoke", tiny_overrides())
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.SUCCEEDED)
    run.refresh_from_db()
    return run


def checkpoint(run: TrainingRun, kimg: float, report: dict | None, **fields) -> Checkpoint:
    return Checkpoint.objects.create(
        run=run,
        kimg=kimg,
        step=int(kimg * 250),
        file=f"runs/{run.pk}/ckpt-{kimg}.pt",
        sha256=f"{int(kimg * 10):064d}",
        quality=report or {},
        metric=(report or {}).get("swd"),
        **fields,
    )


def text(html: str) -> str:
    return html_module.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_checkpoint_page_shows_rounded_figures_and_the_verdict_with_reasons(client, run):
    failing = checkpoint(run, 0.4, FAILING)
    client.force_login(user_in_group("staff", "Staff"))
    page = text(client.get(reverse("admin:training_checkpoint_change", args=[failing.pk])).content.decode())
    assert "Fails the quality gate (measured at 0.4 kimg)" in page
    assert "mode collapse: 88% of the 64 generated images" in page and "low recall 0.04" in page
    assert (
        "recall 0.043 " in page
        and "diversity (generated / real; the collection's own is 1.00) 0.123 " in page
    )
    assert "SWD (lower is better) 12.35 " in page and "SWD floor (two halves of the collection) 9.88 " in page
    assert "0.04321" not in page  # rounded, never 14 digits

    listing = text(client.get(reverse("admin:training_checkpoint_changelist")).content.decode())
    assert "fails" in listing

    unmeasured = checkpoint(run, 0.2, None)
    page = text(
        client.get(reverse("admin:training_checkpoint_change", args=[unmeasured.pk])).content.decode()
    )
    assert "No quality report was measured on this checkpoint." in page


def test_run_page_charts_every_measurement_the_checkpoint_table_shows(client, run):
    # The history (ticks) has losses only; the reports live on the checkpoints.
    TrainingRun.objects.filter(pk=run.pk).update(
        history=[{"kimg": k, "loss_G": 1.0, "loss_D": 1.0, "augment_p": 0.0} for k in (0.04, 0.2, 0.4)]
    )
    checkpoint(run, 0.2, quality_report(kimg=0.2))
    client.force_login(user_in_group("staff", "Staff"))
    body = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    charts = dict(
        re.findall(r'<svg class="run-chart" role="img" aria-label="([^"]+)"(.*?)</svg>', body, re.S)
    )
    assert "No data yet." not in charts["Quality: SWD and its floor"]
    # One measurement is drawn as a point from the first measurement on.
    assert charts["Quality: SWD and its floor"].count("<circle") == 2
    assert "recall (0.7235)" in charts["Quality: precision, recall and diversity"]
    assert "diversity (generated / real) (0.9877)" in charts["Quality: precision, recall and diversity"]

    checkpoint(run, 0.4, FAILING)
    body = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    charts = dict(
        re.findall(r'<svg class="run-chart" role="img" aria-label="([^"]+)"(.*?)</svg>', body, re.S)
    )
    shares = charts["Quality: precision, recall and diversity"]
    assert shares.count("<polyline") == 3 and "recall (0.04321)" in shares
    table = text(body.split("<h2>Checkpoints</h2>")[1])
    assert "passes" in table and "fails mode collapse: 88%" in table and "(and 1 more reason)" in table


def test_publishing_a_failing_checkpoint_shows_both_reports_and_asks(client, run):
    good = checkpoint(run, 0.2, quality_report(kimg=0.2))
    gallery_services.publish_checkpoint(good)
    bad = checkpoint(run, 0.4, FAILING)
    staff = user_in_group("staff", "Staff")
    client.force_login(staff)
    url = reverse("admin:training_checkpoint_publish", args=[bad.pk])

    asked = client.post(url, {"first_batch": "1", "count": "8", "psi": "0.6"})
    assert asked.status_code == 200
    page = text(asked.content.decode())
    assert f"This checkpoint ({bad})" in page and f"Published now ({good})" in page
    assert "Verdict fails passes" in page
    assert (
        "recall 0.043 0.723" in page
        and "diversity (generated / real; the collection's own is 1.00) 0.123 0.988" in page
    )
    assert "Its quality report fails: mode collapse" in page
    assert "The published checkpoint's report passes; this one's fails." in page
    assert "recall is 0.043, worse than 0.723 of the published checkpoint" in page
    bad.refresh_from_db()
    good.refresh_from_db()
    assert not bad.published and good.published  # nothing changed yet

    done = client.post(url, {"first_batch": "1", "count": "8", "psi": "0.6", "confirm": "1"})
    assert done.status_code == 302
    bad.refresh_from_db()
    good.refresh_from_db()
    assert bad.published and not good.published
    assert bad.published_by == staff and bad.published_at is not None
    assert any("mode collapse" in w for w in bad.publish_warnings)
    page = text(client.get(reverse("admin:training_checkpoint_change", args=[bad.pk])).content.decode())
    assert f"Published by: {staff.username} " in page
    assert "Its quality report fails: mode collapse" in page


def test_publishing_a_passing_but_worse_checkpoint_asks_and_a_better_one_does_not(client, run):
    published = checkpoint(run, 0.2, quality_report(kimg=0.2))
    gallery_services.publish_checkpoint(published)
    worse = checkpoint(run, 0.4, quality_report(kimg=0.4, recall=0.5))
    better = checkpoint(run, 0.6, quality_report(kimg=0.6, recall=0.8, swd=11.0))
    client.force_login(user_in_group("staff", "Staff"))

    asked = client.post(reverse("admin:training_checkpoint_publish", args=[worse.pk]))
    assert asked.status_code == 200
    assert "recall is 0.500, worse than 0.723 of the published checkpoint" in text(asked.content.decode())

    straight = client.post(reverse("admin:training_checkpoint_publish", args=[better.pk]))
    assert straight.status_code == 302
    better.refresh_from_db()
    assert better.published and better.publish_warnings == []


def test_diversity_is_judged_by_its_distance_from_the_collections_own(client, run):
    # The collection against itself scores 1.00: a model whose pictures scatter
    # wider (1.10) is no better than one at 1.01, and one at 0.99 is no worse.
    published = checkpoint(run, 0.2, quality_report(kimg=0.2, diversity=1.01))
    gallery_services.publish_checkpoint(published)
    scattered = checkpoint(run, 0.4, quality_report(kimg=0.4, diversity=1.10))
    near = checkpoint(run, 0.6, quality_report(kimg=0.6, diversity=0.99))
    client.force_login(user_in_group("staff", "Staff"))

    asked = client.post(reverse("admin:training_checkpoint_publish", args=[scattered.pk]))
    assert asked.status_code == 200
    page = text(asked.content.decode())
    assert "own is 1.00) is 1.100, worse than 1.010 of the published checkpoint" in page

    straight = client.post(reverse("admin:training_checkpoint_publish", args=[near.pk]))
    assert straight.status_code == 302
    near.refresh_from_db()
    assert near.published and near.publish_warnings == []
