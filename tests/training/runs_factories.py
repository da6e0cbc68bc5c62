"""Rows, files, users and worker settings for the training-run tests."""

from __future__ import annotations

import hashlib
import io
import os
import signal
import time
from pathlib import Path

import numpy as np
import pytest
from django.contrib.auth.models import Group, User
from django.core.files.base import ContentFile
from PIL import Image

from gallery.models import Genre
from scraper.models import ScrapedImage

PASSWORD = "a-long-test-password"

# A run that trains in seconds on one CPU core: the "smoke" preset's networks,
# 4 images per step, a tick every 10 steps.
TINY_FORM = {
    "preset": "smoke",
    "resolution": "32",
    "total_kimg": "0.4",
    "batch_size": "4",
    "style_mode": "modulated",
    "r1_gamma": "",
    "ada": "on",
    "ada_target": "0.6",
    "tick_kimg": "0.04",
    "checkpoint_kimg": "0.2",
    "seed": "3",
}


def tiny_overrides(**changes: object) -> dict:
    """The TINY_FORM options as ``services.start_run`` overrides."""
    values = {
        "resolution": 32,
        "total_kimg": 0.4,
        "batch_size": 4,
        "tick_kimg": 0.04,
        "checkpoint_kimg": 0.2,
        "seed": 3,
    }
    values.update(changes)
    return values


def steps_for(kimg: float, batch: int = 4) -> int:
    return round(kimg * 1000 / batch)


def painting_png(seed: int, size: int = 48) -> bytes:
    """A small picture-like PNG (smooth gradient plus noise); ``seed`` changes it."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    base = np.stack([x * 4 + seed * 7, y * 4 + seed * 3, (x + y) * 2], -1) % 256
    pixels = np.clip(base + rng.normal(0, 10, base.shape), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, "PNG")
    return buffer.getvalue()


def approved_images(genre_slug: str, count: int, first_seed: int = 0) -> list[ScrapedImage]:
    """``count`` approved ScrapedImages of a genre, each with a real stored file."""
    genre = Genre.objects.get(slug=genre_slug)
    images = []
    for seed in range(first_seed, first_seed + count):
        data = painting_png(seed)
        digest = hashlib.sha256(data).hexdigest()
        image = ScrapedImage(
            genre=genre,
            source="aic",
            source_id=f"{genre_slug}-{seed}",
            title=f"Study {seed}",
            licence="CC0",
            width=48,
            height=48,
            content_hash=digest,
            status=ScrapedImage.Status.APPROVED,
        )
        image.image.save(f"{digest}.png", ContentFile(data), save=False)
        image.save()
        images.append(image)
    return images


def user_in_group(username: str, group: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def run_storage(settings, tmp_path: Path) -> Path:
    """Media and run folders of this test in its own tmp dir (worker processes
    inherit them through the environment). Checkpoint storage stays where the
    settings put it: model fields bind that storage when they are imported."""
    from museum.celery import app

    # Messages left by earlier tests (queued runs nobody trained) must not
    # reach this test's workers.
    app.control.purge()
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TRAINING_WORK_DIR = tmp_path / "runs-host-a"
    settings.TRAINING_HEARTBEAT_SECONDS = 1
    settings.TRAINING_STALE_SECONDS = 4
    settings.TORCH_DEVICE = "cpu"
    return tmp_path


def worker_env(settings, work_dir: Path | None = None) -> dict[str, str]:
    """Environment for a worker process that matches ``run_storage``."""
    return {
        "AAG_TRAINING_WORK_DIR": str(work_dir or settings.TRAINING_WORK_DIR),
        "TRAINING_HEARTBEAT_SECONDS": str(settings.TRAINING_HEARTBEAT_SECONDS),
        "TRAINING_STALE_SECONDS": str(settings.TRAINING_STALE_SECONDS),
        "TORCH_DEVICE": "cpu",
        # Two cores are shared by everyone: one thread per worker.
        "OMP_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
    }


def _rank_pids(run_id: int) -> list[int]:
    """The live ``training.distributed_run`` processes of a run, from /proc."""
    pids = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            args = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile
        rank = b"training.distributed_run" in args and b"torch.distributed.run" not in args  # not torchrun
        if rank and f"--run-id={run_id}".encode() in args:
            pids.append(int(cmdline.parent.name))
    return sorted(pids)


def run_state(run, worker, settings) -> str:
    """Where a run stands, for a failed wait: its row, the worker's log and, when it trained
    under torchrun, that log's end (ranks' errors land there, not in the worker's log)."""
    run.refresh_from_db()
    torchrun_log = Path(settings.TRAINING_WORK_DIR) / f"run-{run.pk}" / "torchrun.log"
    child = run.worker.rpartition(" pid ")[2]
    if run.status in ("running", "cancelling") and child.isdigit():
        try:  # the task's process prints its threads' stacks into the worker's log (museum.stacks)
            os.kill(int(child), signal.SIGUSR1)
            time.sleep(1.0)
        except ProcessLookupError:
            pass
    parts = [
        f"run {run.pk}: status {run.status}, step {run.step}, kimg {run.kimg_done}, "
        f"attempts {run.attempts}, worker {run.worker!r}, heartbeat {run.heartbeat}, error {run.error!r}",
        f"worker log (end):\n{worker.log()[-6000:]}",
    ]
    ranks = _rank_pids(run.pk)
    for pid in ranks:  # each prints its threads' stacks on SIGUSR1; one at a time, unmixed
        os.kill(pid, signal.SIGUSR1)
        time.sleep(1.0)
    if ranks:
        parts.append(f"rank processes {ranks} were asked for their stacks (below, in torchrun.log)")
    if torchrun_log.exists():
        parts.append(f"{torchrun_log} (end):\n{torchrun_log.read_text(errors='replace')[-8000:]}")
    return "\n".join(parts)


def quality_report(
    passed: bool = True, kimg: float = 0.2, reasons: list[str] | None = None, **figures
) -> dict:
    """A checkpoint's stored quality report (``QualityReport.to_dict()``'s keys)
    with figures a healthy model would score, unless overridden."""
    report = {
        "swd": 12.3456,
        "swd_floor": 9.8765,
        "precision": 0.81234,
        "recall": 0.72345,
        "diversity": 0.98765,
        "near_duplicate_rate": 0.0,
        "copy_rate": 0.0,
        "n_real": 64,
        "n_fake": 64,
        "near_duplicate_threshold": 0.1234,
        "copy_threshold": 0.1111,
        "passed": passed,
        "reasons": reasons if reasons is not None else ([] if passed else ["low recall 0.05"]),
        "failed": [] if passed else ["recall"],
        "kimg": kimg,
        "per_class": None,
    }
    report.update(figures)
    return report
