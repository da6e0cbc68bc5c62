"""The production compose file, parsed (no Docker engine runs here)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]


def command_of(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(command) if isinstance(command, list) else command


def test_every_part_of_the_deployment_is_there(services):
    assert {
        "postgres",
        "redis",
        "minio",
        "createbuckets",
        "web",
        "worker-crawl",
        "worker-gpu",
        "beat",
    } <= set(services)


def test_postgres_has_a_healthcheck_that_the_app_waits_for(services):
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    for name in ("web", "worker-crawl", "worker-gpu", "beat"):
        assert services[name]["depends_on"]["postgres"]["condition"] == "service_healthy"


def test_redis_never_evicts_queued_tasks(services):
    assert "noeviction" in command_of(services["redis"])


def test_buckets_are_created_before_the_app_starts(services):
    script = services["createbuckets"]["entrypoint"]
    assert "mc mb" in script and "museum-media" in script and "museum-checkpoints" in script
    # No public bucket: media is served through the permission-checked view.
    assert "anonymous set download" not in script
    assert services["web"]["depends_on"]["createbuckets"]["condition"] == "service_completed_successfully"
    env = services["web"]["environment"]
    assert env["AWS_S3_ENDPOINT_URL"] == "http://minio:9000"
    assert env["CHECKPOINT_BUCKET_NAME"] == "museum-checkpoints"


def test_web_migrates_collects_static_and_runs_gunicorn(services):
    command = command_of(services["web"])
    assert command.index("migrate") < command.index("collectstatic") < command.index("gunicorn")
    assert services["web"]["environment"]["DJANGO_DEBUG"] == "0"


def test_crawl_worker_consumes_the_crawl_queue(services):
    command = command_of(services["worker-crawl"])
    assert "worker" in command and "-Q crawl" in command


def test_gpu_worker_runs_one_task_at_a_time_on_a_reserved_gpu(services):
    gpu = services["worker-gpu"]
    command = command_of(gpu)
    assert "-Q gpu" in command
    assert "-c 1" in command
    assert "--max-tasks-per-child 1" in command
    devices = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_exactly_one_beat(services):
    beats = [name for name, service in services.items() if " beat" in f" {command_of(service)}"]
    assert beats == ["beat"]
    assert services["beat"].get("deploy", {}).get("replicas", 1) == 1


def test_no_secrets_in_the_compose_file(services):
    for name, service in services.items():
        for key, value in (service.get("environment") or {}).items():
            if any(word in key for word in ("SECRET", "PASSWORD")):
                assert str(value).startswith("${"), f"{name}.{key} must come from the environment"


def test_the_cache_has_its_own_redis_database_in_every_app_service(services):
    for name in ("web", "worker-crawl", "worker-gpu", "beat"):
        env = services[name]["environment"]
        broker, cache = env["REDIS_URL"], env["REDIS_CACHE_URL"]
        assert broker.rsplit("/", 1)[0] == cache.rsplit("/", 1)[0] and broker != cache, name


def test_web_is_probed_for_readiness_not_for_every_service(services):
    # /healthz fails during a Redis outage while pages still render: the probe
    # that keeps web in rotation is /readyz.
    probe = " ".join(services["web"]["healthcheck"]["test"])
    assert "/readyz" in probe and "/healthz" not in probe
