"""The start form: numbers bounded by the engine's option declarations, the truth
about which workers exist, and an estimated time from measured speeds."""

from __future__ import annotations

import os
import signal

import pytest
from django.urls import reverse

from gallery.models import Genre
from tests.training.runs_factories import (
    TINY_FORM,
    approved_images,
    run_storage,  # noqa: F401 - a fixture, used through pytestmark
    tiny_overrides,
    user_in_group,
    worker_env,
)
from training import services
from training.engine.option_fields import option_specs
from training.models import TrainingRun, WorkerNode
from training.worker_presence import NodeDevice, report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("run_storage")]
START = "admin:training_trainingrun_start"


@pytest.fixture
def staff_client(client):
    approved_images("portrait", 16)
    client.force_login(user_in_group("staff", "Staff"))
    return client


def post(client, **changes):
    data = {**TINY_FORM, "genre": str(Genre.objects.get(slug="portrait").pk), **changes}
    return client.post(reverse(START), data)


def test_every_admin_option_of_the_engine_is_a_field_of_the_form(staff_client):
    body = staff_client.get(reverse(START)).content.decode()
    for spec in option_specs():
        assert (f'name="{spec.name}"' in body) == spec.admin, spec.name
    assert "Advanced options" in body


def test_every_option_is_labelled_in_words_not_by_its_field_name(staff_client):
    """Staff read "Generator learning rate", not "G lr" made from the field's name."""
    body = staff_client.get(reverse(START)).content.decode()
    for spec in option_specs():
        if spec.admin:
            assert spec.label, f"{spec.name} has no label of its own"
            assert f'for="id_{spec.name}">{spec.label}:</label>' in body, spec.name


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("seed", "99999999999999999999999", "Ensure this value is less than or equal to 2147483647."),
        ("total_kimg", "1e308", "Ensure this value is less than or equal to 100000.0."),
        ("total_kimg", "inf", "Enter a number."),
        ("batch_size", "100000", "Ensure this value is less than or equal to 1024."),
        ("channel_base", "99999999999", "Ensure this value is less than or equal to 65536."),
    ],
)
def test_numbers_beyond_what_the_engine_accepts_are_refused_by_field(staff_client, field, value, message):
    response = post(staff_client, **{field: value})
    body = response.content.decode()
    assert response.status_code == 200 and message in body
    assert not TrainingRun.objects.exists(), "nothing reaches a worker"


def test_without_a_worker_the_message_says_no_worker_takes_the_run(staff_client):
    response = post(staff_client)
    assert response.status_code == 302
    page = staff_client.get(response["Location"]).content.decode()
    assert "No worker takes training runs now" in page
    assert "queued for a GPU worker" not in page


def _measured_run(speed: float, device: str, **overrides) -> TrainingRun:
    """A finished earlier run that measured ``speed`` images/s."""
    run = services.start_run(Genre.objects.get(slug="portrait"), "smoke", tiny_overrides(**overrides))
    TrainingRun.objects.filter(pk=run.pk).update(
        status=TrainingRun.Status.SUCCEEDED, images_per_second=speed, device=device
    )
    return run


def test_a_run_that_would_take_years_on_the_only_cpu_worker_asks_for_confirmation(staff_client):
    report("cpu-node@host", ["default", "gpu"], NodeDevice("cpu", 0, ""))
    earlier = _measured_run(40.0, "cpu ×1")
    page = staff_client.get(reverse(START)).content.decode()
    assert "cpu-node@host: cpu ×1" in page, "the page names the worker that exists"

    big = {"resolution": "1024", "batch_size": "1024", "total_kimg": "100000", "checkpoint_kimg": "50"}
    body = post(staff_client, **big).content.decode()
    assert TrainingRun.objects.count() == 1, "not started before staff confirm"
    assert f"measured by run {earlier.pk} on cpu ×1" in body and "scaled from its network" in body
    assert "years" in body and "Only CPU workers are running: 1024 px is meant for a GPU." in body
    assert 'value="Start anyway"' in body and 'name="confirmed" value="on"' in body

    response = post(staff_client, **big, confirmed="on")
    assert response.status_code == 302
    run = TrainingRun.objects.latest("pk")
    assert run.config["network"]["resolution"] == 1024 and run.config["total_kimg"] == 100000
    assert "queued for cpu-node@host: cpu ×1" in staff_client.get(response["Location"]).content.decode()


def test_a_short_run_is_estimated_from_the_same_configuration_and_starts_at_once(staff_client):
    report("cpu-node@host", ["gpu"], NodeDevice("cpu", 0, ""))
    earlier = _measured_run(20.0, "cpu ×1")
    body = staff_client.get(reverse(START) + "?preset=smoke").content.decode()
    assert "Estimated time" in body  # the smoke preset's network: extrapolated from TINY_FORM's
    response = post(staff_client)  # TINY_FORM: 400 images at the measured 20 images/s
    assert response.status_code == 302
    start_page = staff_client.get(reverse(START)).content.decode()
    assert f"measured by run {earlier.pk}" in start_page


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_real_worker_reports_itself_and_is_gone_after_it_stops(
    staff_client, settings, celery_worker_factory
):
    worker = celery_worker_factory(queues="default,gpu", extra_env=worker_env(settings))
    node = WorkerNode.objects.get()
    assert node.device == "cpu" and node.processes == 1 and "gpu" in node.queues
    assert f"{node.name}: cpu ×1" in staff_client.get(reverse(START)).content.decode()
    os.kill(worker.pid, signal.SIGTERM)  # a warm (clean) shutdown, as `docker stop` sends
    worker.proc.wait(timeout=60)
    assert not WorkerNode.objects.exists(), worker.log()[-2000:]
    assert "<strong>none</strong>" in staff_client.get(reverse(START)).content.decode()
