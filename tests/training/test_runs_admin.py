"""Who may see and do what on the training pages; the start form's checks; the charts."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.urls import reverse

from gallery import services as gallery_services
from gallery.models import Genre
from tests.training.runs_factories import (
    TINY_FORM,
    approved_images,
    quality_report,
    run_storage,  # noqa: F401 - a fixture, used through pytestmark
    tiny_overrides,
    user_in_group,
)
from training import services
from training.charts import Series, line_chart, run_charts
from training.models import Checkpoint, TrainingRun, TrainingSample

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_storage")]


@pytest.fixture
def run() -> TrainingRun:
    approved_images("portrait", 16)
    run = services.start_run(Genre.objects.get(slug="portrait"), "smoke", tiny_overrides())
    TrainingRun.objects.filter(pk=run.pk).update(status=TrainingRun.Status.RUNNING)
    run.refresh_from_db()
    return run


def training_urls(run: TrainingRun, checkpoint: Checkpoint, sample: TrainingSample) -> dict[str, str]:
    return {
        "changelist": reverse("admin:training_trainingrun_changelist"),
        "run": reverse("admin:training_trainingrun_change", args=[run.pk]),
        "start": reverse("admin:training_trainingrun_start"),
        "sample": reverse("admin:training_trainingrun_sample", args=[run.pk, sample.pk]),
        "checkpoints": reverse("admin:training_checkpoint_changelist"),
        "datasets": reverse("admin:training_dataset_changelist"),
    }


def buttons(run: TrainingRun, checkpoint: Checkpoint) -> dict[str, tuple[str, dict]]:
    return {
        "cancel": (reverse("admin:training_trainingrun_cancel", args=[run.pk]), {}),
        "resume": (reverse("admin:training_trainingrun_resume", args=[run.pk]), {}),
        "publish": (reverse("admin:training_checkpoint_publish", args=[checkpoint.pk]), {}),
        "generate": (
            reverse("admin:training_checkpoint_generate", args=[checkpoint.pk]),
            {"count": 2, "psi": 0.7},
        ),
        "mix": (reverse("admin:training_checkpoint_mix", args=[checkpoint.pk]), {"rows": 2, "columns": 2}),
    }


@pytest.fixture
def artefacts(run):
    checkpoint = Checkpoint.objects.create(run=run, kimg=0.2, step=50, file="runs/x/ckpt.pt", sha256="0" * 64)
    sample = TrainingSample.objects.create(run=run, kimg=0.04, step=10, image="runs/x/fakes.png")
    return checkpoint, sample


def test_anonymous_users_get_the_admin_login_everywhere(client, run, artefacts):
    checkpoint, sample = artefacts
    for name, url in training_urls(run, checkpoint, sample).items():
        response = client.get(url)
        assert response.status_code == 302 and reverse("admin:login") in response["Location"], name
    for name, (url, data) in buttons(run, checkpoint).items():
        response = client.post(url, data)
        assert response.status_code == 302 and reverse("admin:login") in response["Location"], name
    run.refresh_from_db()
    assert run.status == "running"


def test_curators_reach_no_training_page_and_press_no_button(client, run, artefacts):
    checkpoint, sample = artefacts
    client.force_login(user_in_group("curator", "Curators"))
    for name, url in training_urls(run, checkpoint, sample).items():
        assert client.get(url).status_code == 403, name
    for name, (url, data) in buttons(run, checkpoint).items():
        assert client.post(url, data).status_code == 403, name
    assert (
        client.post(
            reverse("admin:training_trainingrun_start"), {**TINY_FORM, "genre": run.genre_id}
        ).status_code
        == 403
    )
    run.refresh_from_db()
    checkpoint.refresh_from_db()
    assert run.status == "running" and not checkpoint.published and TrainingRun.objects.count() == 1
    # The admin index does not even list the training app for them.
    assert "/admin/training/" not in client.get(reverse("admin:index")).content.decode()


def test_starting_needs_start_permission_and_publishing_needs_publish_permission(client, run, artefacts):
    checkpoint, _sample = artefacts
    watcher = user_in_group("watcher", "Curators")
    watcher.user_permissions.add(Permission.objects.get(codename="view_trainingrun"))
    client.force_login(watcher)
    assert client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).status_code == 200
    page = client.get(reverse("admin:training_trainingrun_change", args=[run.pk])).content.decode()
    assert 'value="Cancel run"' not in page and 'value="Publish"' not in page
    assert client.post(reverse("admin:training_trainingrun_cancel", args=[run.pk])).status_code == 403
    assert client.post(reverse("admin:training_checkpoint_publish", args=[checkpoint.pk])).status_code == 403


def test_buttons_are_post_only(client, run, artefacts):
    checkpoint, _sample = artefacts
    client.force_login(user_in_group("staff", "Staff"))
    for name, (url, _data) in buttons(run, checkpoint).items():
        assert client.get(url).status_code == 405, name
    run.refresh_from_db()
    assert run.status == "running"


def test_start_form_refuses_a_genre_with_too_few_approved_images(client):
    approved_images("cityscape", 3)
    client.force_login(user_in_group("staff", "Staff"))
    page = client.get(reverse("admin:training_trainingrun_start")).content.decode()
    assert "Cityscapes: 3 approved images" in page
    # The CPU preset's defaults are filled in.
    assert 'name="resolution"' in page and '<option value="32" selected>' in page

    cityscape = Genre.objects.get(slug="cityscape")
    response = client.post(reverse("admin:training_trainingrun_start"), {**TINY_FORM, "genre": cityscape.pk})
    assert response.status_code == 200
    assert (
        "Cityscapes has only 3 approved images; a training run needs at least 16."
        in response.content.decode()
    )
    assert not TrainingRun.objects.exists()


def test_start_form_reports_bad_values_by_field(client):
    approved_images("portrait", 16)
    client.force_login(user_in_group("staff", "Staff"))
    portrait = Genre.objects.get(slug="portrait")
    data = {**TINY_FORM, "genre": portrait.pk, "batch_size": "0", "ada_target": "1.5"}
    body = client.post(reverse("admin:training_trainingrun_start"), data).content.decode()
    assert "Ensure this value is greater than or equal to 1." in body
    assert "Ensure this value is less than or equal to 0.99." in body
    data = {**TINY_FORM, "genre": portrait.pk, "checkpoint_kimg": "5"}
    assert (
        "Checkpoint at least once"
        in client.post(reverse("admin:training_trainingrun_start"), data).content.decode()
    )
    assert not TrainingRun.objects.exists()


def test_a_genre_with_an_active_run_cannot_start_another(client, run):
    client.force_login(user_in_group("staff", "Staff"))
    response = client.post(reverse("admin:training_trainingrun_start"), {**TINY_FORM, "genre": run.genre_id})
    assert f"Run {run.pk} for Portraits is still active" in response.content.decode()
    assert TrainingRun.objects.count() == 1


def test_publishing_keeps_one_published_checkpoint_per_room(client, run, artefacts):
    first, _sample = artefacts
    Checkpoint.objects.filter(pk=first.pk).update(quality=quality_report())
    second = Checkpoint.objects.create(
        run=run, kimg=0.4, step=100, file="runs/x/ckpt2.pt", sha256="1" * 64, quality=quality_report(kimg=0.4)
    )
    client.force_login(user_in_group("staff", "Staff"))
    client.post(reverse("admin:training_checkpoint_publish", args=[first.pk]))
    client.post(reverse("admin:training_checkpoint_publish", args=[second.pk]))
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.published, second.published) == (False, True)
    assert gallery_services.published_checkpoint(run.genre) == second
    assert run.genre.generation_schedule.enabled  # the room now refreshes on a schedule


def test_line_chart_draws_every_point_and_escapes_names():
    svg = line_chart([Series("<G>", [(0, 1.0), (1, 0.5), (2, 0.25)])], "Losses & co")
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "&lt;G&gt;" in svg and "Losses &amp; co" in svg and "<G>" not in svg
    points = svg.split('points="')[1].split('"')[0].split()
    assert len(points) == 3
    ys = [float(p.split(",")[1]) for p in points]
    assert ys[0] > ys[1] > ys[2] or ys[0] < ys[1] < ys[2]
    assert ys == sorted(ys)  # SVG y grows downwards: falling loss, rising y


def test_run_charts_show_losses_metric_and_ada_p_or_say_no_data():
    history = [
        {"kimg": 0.1, "loss_G": 2.0, "loss_D": 1.0, "augment_p": 0.0, "swd": 40.0},
        {"kimg": 0.2, "loss_G": 1.5, "loss_D": 1.2, "augment_p": 0.1},
    ]
    losses, metric, shares, ada = run_charts(history)
    assert losses.count("<polyline") == 2 and metric.count("<circle") == 1 and ada.count("<polyline") == 1
    assert "No data yet." in shares  # no precision, recall or diversity measured
    assert all("No data yet." in chart for chart in run_charts([]))


def test_staff_see_runs_listed_with_progress_and_edit_room_schedules(client, run):
    TrainingRun.objects.filter(pk=run.pk).update(kimg_done=0.1)
    client.force_login(user_in_group("staff", "Staff"))
    listing = client.get(reverse("admin:training_trainingrun_changelist")).content.decode()
    assert '<progress max="100" value="25.0"></progress> 0.1 / 0.4 kimg' in listing
    add = client.get(reverse("admin:training_trainingrun_add"))
    assert add.status_code == 302 and add["Location"] == reverse("admin:training_trainingrun_start")

    response = client.post(
        reverse("admin:training_generationschedule_add"),
        {"genre": run.genre_id, "enabled": "on", "every_hours": "6", "count": "8", "psi": "0.5"},
    )
    assert response.status_code == 302
    schedule = run.genre.generation_schedule
    assert (schedule.every_hours, schedule.count, schedule.psi) == (6, 8, 0.5)


def test_checkpoint_and_dataset_lists_show_rounded_figures_and_human_sizes(client, db):
    from training.models import Dataset

    client.force_login(User.objects.create_superuser("root", password="x"))
    run = TrainingRun.objects.create(genre=Genre.objects.get(slug="portrait"))
    Checkpoint.objects.create(
        run=run, kimg=40.0, file="c.pt", sha256="ab" * 32, size=123_456_789, metric=227.0289696753025
    )
    Dataset.objects.create(genre=run.genre, resolution=64, image_count=48, sha256="cd" * 32)

    checkpoints = client.get(reverse("admin:training_checkpoint_changelist")).content.decode()
    assert "227.03" in checkpoints and "227.0289696753025" not in checkpoints
    assert "117.7\xa0MB" in checkpoints and "123456789" not in checkpoints
    assert ">40<" in checkpoints and "40.0" not in checkpoints
    datasets = client.get(reverse("admin:training_dataset_changelist")).content.decode()
    assert "cdcdcdcdcdcd…" in datasets and "cd" * 32 + "<" not in datasets
