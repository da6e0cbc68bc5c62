"""The settings switch on the environment alone: each case imports them in a
fresh process with a given environment and reads back what Django sees."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, django
from django.conf import settings
django.setup()
from museum.celery import app
print(json.dumps({
    "db_engine": settings.DATABASES["default"]["ENGINE"],
    "db_name": str(settings.DATABASES["default"]["NAME"]),
    "db_host": settings.DATABASES["default"].get("HOST", ""),
    "broker": app.conf.broker_url,
    "transport": app.conf.broker_transport_options,
    "cache": settings.CACHES["default"]["BACKEND"],
    "storages": settings.STORAGES,
    "debug": settings.DEBUG,
    "routes": app.conf.task_routes,
    "acks_late": app.conf.task_acks_late,
    "prefetch": app.conf.worker_prefetch_multiplier,
    "serializer": app.conf.task_serializer,
    "accept": list(app.conf.accept_content),
}, default=str))
"""

CONFIG_VARS = (
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_CACHE_URL",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_S3_ENDPOINT_URL",
    "CHECKPOINT_BUCKET_NAME",
    "DJANGO_DEBUG",
    "DJANGO_SECRET_KEY",
    "DJANGO_ALLOWED_HOSTS",
    "CELERY_BROKER_DIR",
    "CELERY_REDIS_KEYPREFIX",
    "AAG_MEDIA_ROOT",
    "AAG_CHECKPOINT_ROOT",
    "CELERY_VISIBILITY_TIMEOUT",
    # Set by the browser tests in this process; never in a deployment.
    "DJANGO_ALLOW_ASYNC_UNSAFE",
)


PRODUCTION = {
    "DJANGO_DEBUG": "0",
    "DJANGO_SECRET_KEY": "k" + "9Zq-x_7Lw3pRt0vYb2NcDf4Hg6Jm8Ks1" * 2,
    "DJANGO_ALLOWED_HOSTS": "gallery.example.org",
}


def run_with_env(tmp_path: Path, code: str, **env: str) -> subprocess.CompletedProcess:
    base = {k: v for k, v in os.environ.items() if k not in CONFIG_VARS}
    base.update(AAG_DATA_DIR=str(tmp_path / "data"), DJANGO_SETTINGS_MODULE="museum.settings", **env)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=base, capture_output=True, text=True, timeout=120
    )


def probe(tmp_path: Path, **env: str) -> dict:
    result = run_with_env(tmp_path, PROBE, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_fresh_clone_defaults_need_no_configuration(tmp_path):
    seen = probe(tmp_path)
    data = tmp_path / "data"
    assert seen["db_engine"] == "django.db.backends.sqlite3"
    assert seen["db_name"] == str(data / "museum.sqlite3")
    assert seen["broker"] == "filesystem://"
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        folder = Path(seen["transport"][key])
        assert folder.is_absolute() and folder.is_dir() and data in folder.parents
    assert seen["cache"].endswith("FileBasedCache")  # one cache for web and worker processes
    assert seen["storages"]["default"]["BACKEND"] == "django.core.files.storage.FileSystemStorage"
    assert seen["storages"]["checkpoints"]["OPTIONS"]["base_url"] is None, "checkpoints must never get a URL"
    assert seen["debug"] is True
    # A development secret is generated into the data folder, not the repo.
    assert (data / "secret_key").stat().st_size > 40


def test_database_url_switches_to_postgresql(tmp_path):
    seen = probe(tmp_path, DATABASE_URL="postgres://museum:pw@db.internal:5432/museum")
    assert seen["db_engine"] == "django.db.backends.postgresql"
    assert seen["db_name"] == "museum"
    assert seen["db_host"] == "db.internal"


def test_redis_url_switches_broker_and_cache(tmp_path):
    seen = probe(tmp_path, REDIS_URL="redis://cache.internal:6379/2", CELERY_VISIBILITY_TIMEOUT="90000")
    assert seen["broker"] == "redis://cache.internal:6379/2"
    assert seen["cache"] == "museum.cache.RedisCache"
    # Above the longest training job, so Redis never hands a running job to a second worker.
    assert seen["transport"]["visibility_timeout"] == 90000


CLEAR_THE_CACHE = """
import os, django, redis
django.setup()
from django.core.cache import cache
from museum.celery import app
queues = redis.Redis.from_url(os.environ["REDIS_URL"])
queues.delete("default")
app.send_task("gallery.periodic.refresh_rooms", queue="default")  # queued; no worker takes it
cache.set("page", "rendered")
cache.clear()
print(queues.llen("default"), cache.get("page"))
queues.delete("default")
"""


def test_clearing_the_cache_keeps_queued_tasks_when_it_has_its_own_redis_database(tmp_path):
    from tests.conftest import require_service

    server = require_service("REDIS_URL").rsplit("/", 1)[0]
    apart = run_with_env(tmp_path, CLEAR_THE_CACHE, REDIS_URL=f"{server}/13", REDIS_CACHE_URL=f"{server}/14")
    assert apart.returncode == 0, apart.stderr
    assert apart.stdout.split() == ["1", "None"]  # the task still waits; the cache is empty
    # One database for both (REDIS_CACHE_URL unset): the same clear drops the task.
    shared = run_with_env(tmp_path, CLEAR_THE_CACHE, REDIS_URL=f"{server}/13")
    assert shared.returncode == 0, shared.stderr
    assert shared.stdout.split() == ["0", "None"]


def test_s3_bucket_switches_media_and_private_checkpoints(tmp_path):
    seen = probe(
        tmp_path,
        AWS_STORAGE_BUCKET_NAME="museum-media",
        CHECKPOINT_BUCKET_NAME="museum-checkpoints",
        AWS_S3_ENDPOINT_URL="http://minio:9000",
        **PRODUCTION,
    )
    media, checkpoints = seen["storages"]["default"], seen["storages"]["checkpoints"]
    assert checkpoints["BACKEND"] == "storages.backends.s3.S3Storage"
    # Media: a private bucket whose URLs are the permission-checked /media/ view.
    assert media["BACKEND"] == "museum.mediastorage.ViewServedS3Storage"
    assert media["OPTIONS"]["default_acl"] == "private"
    assert media["OPTIONS"]["bucket_name"] == "museum-media"
    assert media["OPTIONS"]["endpoint_url"] == "http://minio:9000"
    assert checkpoints["OPTIONS"]["bucket_name"] == "museum-checkpoints"
    assert checkpoints["OPTIONS"]["default_acl"] == "private"
    assert checkpoints["OPTIONS"]["querystring_auth"] is True
    # Production static files: compressed, with hashed names.
    assert (
        seen["storages"]["staticfiles"]["BACKEND"]
        == "whitenoise.storage.CompressedManifestStaticFilesStorage"
    )


def test_celery_routes_queues_and_safety(tmp_path):
    seen = probe(tmp_path)
    assert seen["routes"]["scraper.tasks.*"] == {"queue": "crawl"}
    assert seen["routes"]["training.tasks.*"] == {"queue": "gpu"}
    assert seen["routes"]["gallery.tasks.*"] == {"queue": "gpu"}
    assert seen["acks_late"] is True
    assert seen["prefetch"] == 1
    assert seen["serializer"] == "json" and seen["accept"] == ["json"]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"DJANGO_ALLOWED_HOSTS": "gallery.example.org"}, "DJANGO_SECRET_KEY is not set"),
        ({"DJANGO_SECRET_KEY": "x" * 60}, "DJANGO_ALLOWED_HOSTS is not set"),
        ({"DJANGO_DEBUG": "maybe"}, "is not a boolean"),
    ],
)
def test_production_refuses_to_start_half_configured(tmp_path, env, message):
    result = run_with_env(tmp_path, PROBE, DJANGO_DEBUG=env.pop("DJANGO_DEBUG", "0"), **env)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_pass_check_deploy(tmp_path):
    result = run_with_env(
        tmp_path,
        "import sys; from django.core.management import execute_from_command_line; "
        "execute_from_command_line(['manage.py', 'check', '--deploy', '--fail-level', 'WARNING'])",
        **PRODUCTION,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("value", "message"), [("0", "must be at least 1"), ("three", "is not a whole number")]
)
def test_a_bad_hang_pool_stops_every_process_with_its_reason(tmp_path, value, message):
    result = run_with_env(tmp_path, PROBE, GALLERY_HANG_POOL=value)
    assert result.returncode != 0
    assert "GALLERY_HANG_POOL=" in result.stderr and message in result.stderr
