"""Running one training run on this worker: claim it, train it with the
engine, report to its row, hand its files to storage.

The row is the source of truth. A task claims the run under a row lock and
takes a lease (a token plus a heartbeat renewed by a thread); whoever holds a
fresh lease owns the run, so a duplicate message, a broker redelivery and a
stale-run requeue can never train the same run twice at once. torch is
imported here, inside functions, and only in the worker child that runs the
task: CUDA must never be initialised in the worker's parent process.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.files import File
from django.db import close_old_connections, transaction
from django.utils import timezone

from museum import heartbeat as museum_heartbeat
from museum.stacks import stacks_on_sigusr1

from .charts import QUALITY_KEYS
from .datasets import pack_dataset
from .models import Checkpoint, TrainingRun, TrainingSample, checkpoint_storage
from .worker_presence import node_device, training_processes

logger = logging.getLogger(__name__)
Status = TrainingRun.Status

# Keys of the engine's stats kept in the run's history (what the charts draw).
HISTORY_KEYS = ("kimg", "step", "loss_G", "loss_D", "r1", "pl", "augment_p", "swd", "images_per_second")
STOP_CHECK_SECONDS = 2.0


def quality_figures(report: Any) -> dict[str, Any]:
    """The charted figures of a quality report dict (``QualityReport.to_dict()``)."""
    if not isinstance(report, dict):
        return {}
    return {k: _jsonable(report[k]) for k in QUALITY_KEYS if report.get(k) is not None}


class TrainingProcessError(RuntimeError):
    """A torchrun process failed; the message is what its rank 0 (or its log) said."""


class LeaseLost(Exception):
    """Another task took over this run (its heartbeat went stale); stop without touching the row."""


def worker_name(node: str | None = None) -> str:
    """``<celery node name> pid <pid>``: who holds a lease, in the admin and the logs."""
    return f"{node or socket.gethostname()} pid {os.getpid()}"


def _owner_died_here(owner: str, worker: str) -> bool:
    """True when the lease holder was a child of this same worker node and that
    process is gone: a child killed under a live parent gets its message
    redelivered at once, before its heartbeat could go stale."""
    owner_node, _, owner_pid = owner.rpartition(" pid ")
    node, _, _pid = worker.rpartition(" pid ")
    if not owner_node or owner_node != node or not owner_pid.isdigit():
        return False
    try:
        os.kill(int(owner_pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def claim(run_id: int, worker: str) -> str | None:
    """Take the run's lease if it may be trained now; return the token, or
    None when another task owns it or there is nothing to do."""
    close_old_connections()
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None:
            logger.warning("Training run %s does not exist (deleted?); nothing to train.", run_id)
            return None
        if run.status in (Status.RUNNING, Status.CANCELLING):
            if run.heartbeat_is_fresh() and not _owner_died_here(run.worker, worker):
                logger.info(
                    "Run %s is %s on %s with a fresh heartbeat; this delivery does nothing.",
                    run_id,
                    run.status,
                    run.worker,
                )
                return None
            if run.status == Status.CANCELLING:
                run.status = Status.CANCELLED
                run.finished = timezone.now()
                run.lease_token = ""
                run.save(update_fields=["status", "finished", "lease_token"])
                logger.info("Run %s was cancelled while its worker was lost.", run_id)
                return None
            logger.warning(
                "Run %s: worker %s stopped beating at %s; taking the run over.",
                run_id,
                run.worker,
                run.heartbeat,
            )
        elif run.status != Status.QUEUED:
            logger.info("Run %s is %s; nothing to train.", run_id, run.status)
            return None
        token = uuid.uuid4().hex
        now = timezone.now()
        run.status = Status.RUNNING
        run.lease_token = token
        run.worker = worker
        run.heartbeat = now
        run.attempts += 1
        run.started = run.started or now
        run.error = ""
        run.save(
            update_fields=["status", "lease_token", "worker", "heartbeat", "attempts", "started", "error"]
        )
    return token


class Heartbeat(museum_heartbeat.Heartbeat):
    """Renews a run's lease every few seconds, independent of how long a
    training step, a dataset pack or a storage upload takes."""

    def __init__(self, run_id: int, token: str, interval: float) -> None:
        super().__init__(TrainingRun, {"pk": run_id, "lease_token": token}, interval, f"run {run_id}")
        self.run_id = run_id
        self.token = token


def _store(name: str, path: Path) -> str:
    """Copy a local file into checkpoint storage under ``name`` (replacing it)."""
    storage = checkpoint_storage()
    if storage.exists(name):
        storage.delete(name)
    with open(path, "rb") as fh:
        return storage.save(name, File(fh))


def _local_dataset(run: TrainingRun) -> Path:
    """The packed dataset as a local file: packed on first use, then read
    straight from local storage or cached from S3 by its hash."""
    from training.engine.dataset import file_sha256

    dataset = run.dataset
    if dataset is None:
        raise ValueError(f"Run {run.pk} has no dataset; start a new run from the admin.")
    if not dataset.packed_file:
        pack_dataset(dataset)
    storage = checkpoint_storage()
    name = dataset.packed_file.name
    if not storage.exists(name):
        raise FileNotFoundError(
            f"The packed file {name!r} of dataset {dataset.pk} is missing from checkpoint storage. "
            "Start a new run to freeze the genre's approved images again."
        )
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        pass  # remote storage (S3): keep a local copy named by its hash
    cached = Path(settings.TRAINING_WORK_DIR) / "datasets" / f"{dataset.sha256}.pack"
    if not cached.exists() or file_sha256(cached) != dataset.sha256:
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_suffix(".part")
        with storage.open(name, "rb") as src, open(partial, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        os.replace(partial, cached)
    return cached


def _fetch_latest_checkpoint(run: TrainingRun, run_dir: Path) -> None:
    """A run moved to another host, or its folder was lost: bring its newest
    stored checkpoint into the run folder (when newer than what is there) so
    the engine resumes from it."""
    from training.engine.checkpoint import checkpoint_metadata, latest_checkpoint
    from training.engine.dataset import file_sha256

    stored = run.checkpoints.order_by("-kimg").first()
    if stored is None:
        return
    local = latest_checkpoint(run_dir)
    if local is not None and int(checkpoint_metadata(local).get("step", 0)) >= stored.step:
        return
    target = run_dir / "checkpoints" / Path(stored.file.name).name
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.part")
    with stored.file.open("rb") as src, open(partial, "wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    if file_sha256(partial) != stored.sha256:
        partial.unlink()
        raise ValueError(
            f"Checkpoint {stored.file.name} in storage does not match its recorded SHA-256; "
            "delete that checkpoint row in the admin to resume from the one before."
        )
    os.replace(partial, target)
    logger.info("Run %s: fetched checkpoint %s from storage into %s", run.pk, stored.file.name, target)


class RunCallbacks:
    """Adapts the engine's callbacks to the run's row (created lazily so the
    engine's base class is imported only in the worker child)."""

    def __init__(self, run: TrainingRun, token: str, heartbeat: Heartbeat, start_step: int) -> None:
        self.run_id = run.pk
        self.token = token
        self.heartbeat = heartbeat
        self.start_step = start_step
        self.base_steps_trained = run.steps_trained
        self.history: list[dict[str, Any]] = list(run.history)
        self.cancelled = False
        self._last_write = 0.0
        self._last_check = 0.0
        self._interval = float(settings.TRAINING_HEARTBEAT_SECONDS)

    def _rows(self):
        return TrainingRun.objects.filter(pk=self.run_id, lease_token=self.token)

    def _write(self, **fields: Any) -> None:
        close_old_connections()
        if not self._rows().update(heartbeat=timezone.now(), **fields):
            self.heartbeat.lost.set()
            raise LeaseLost(f"run {self.run_id} was taken over by another worker")

    def _progress_fields(self, stats: dict[str, Any]) -> dict[str, Any]:
        step = int(stats.get("step", 0))
        return {
            "kimg_done": float(stats.get("kimg", 0.0)),
            "step": step,
            "steps_trained": self.base_steps_trained + max(0, step - self.start_step),
            "images_per_second": stats.get("images_per_second"),
            "eta_seconds": stats.get("eta_seconds"),
            "latest_stats": _jsonable(stats),
        }

    # Engine callbacks ----------------------------------------------------------------------

    def on_start(self, info: dict) -> None:
        logger.info("Run %s: training started (%s)", self.run_id, _jsonable(info))

    def on_progress(self, stats: dict) -> None:
        now = time.monotonic()
        if now - self._last_write < self._interval:
            return
        self._last_write = now
        self._write(**self._progress_fields(stats))

    def on_tick(self, stats: dict, grid_path: Path) -> None:
        if self.heartbeat.lost.is_set():
            raise LeaseLost(f"run {self.run_id} was taken over by another worker")
        kimg = round(float(stats.get("kimg", 0.0)), 6)
        entry = {k: _jsonable(stats[k]) for k in HISTORY_KEYS if k in stats}
        entry.update(quality_figures(stats.get("quality")))
        self.history = [h for h in self.history if h.get("kimg", 0) < kimg] + [entry]
        name = _store(f"runs/{self.run_id}/samples/{Path(grid_path).name}", Path(grid_path))
        TrainingSample.objects.update_or_create(
            run_id=self.run_id, kimg=kimg, defaults={"image": name, "step": int(stats.get("step", 0))}
        )
        self._last_write = time.monotonic()
        self._write(history=self.history, **self._progress_fields(stats))

    def on_checkpoint(self, path: Path, stats: dict) -> None:
        from training.engine.checkpoint import checkpoint_metadata
        from training.engine.dataset import file_sha256

        path = Path(path)
        kimg = round(float(stats.get("kimg", 0.0)), 6)
        # Renew first: a worker that lost its lease must not publish a checkpoint row.
        self._write(**self._progress_fields(stats))
        name = _store(f"runs/{self.run_id}/checkpoints/{path.name}", path)
        meta = checkpoint_metadata(path)
        # The report measured on this very checkpoint (never an earlier one's).
        quality = _jsonable(meta.get("quality") or {})
        swd = quality.get("swd") if quality else (meta.get("metrics") or {}).get("swd")
        Checkpoint.objects.update_or_create(
            run_id=self.run_id,
            kimg=kimg,
            defaults={
                "file": name,
                "sha256": file_sha256(path),
                "size": path.stat().st_size,
                "metric": swd,
                "quality": quality,
                "step": int(stats.get("step", 0)),
            },
        )
        self._last_write = time.monotonic()
        self._write(**self._progress_fields(stats))

    def should_stop(self) -> bool:
        if self.heartbeat.lost.is_set():
            return True
        now = time.monotonic()
        if now - self._last_check < STOP_CHECK_SECONDS:
            return False
        self._last_check = now
        close_old_connections()
        row = TrainingRun.objects.filter(pk=self.run_id).values_list("status", "lease_token").first()
        if row is None or row[1] != self.token:
            self.heartbeat.lost.set()
            return True
        if row[0] == Status.CANCELLING:
            self.cancelled = True
            return True
        return False


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, float):
        return value if value == value and abs(value) != float("inf") else None
    if isinstance(value, Path):
        return str(value)
    try:
        return float(value)  # numpy / torch scalars
    except (TypeError, ValueError):
        return str(value)


def readable_error(exc: BaseException, run: TrainingRun) -> str:
    """What went wrong and what to do about it, for the run's admin page."""
    config = run.config or {}
    batch = config.get("batch_size")
    resolution = (config.get("network") or {}).get("resolution")
    message = str(exc)
    if type(exc).__name__ == "OutOfMemoryError" or "out of memory" in message.lower():
        return (
            f"Out of GPU memory at batch size {batch} and {resolution}px ({message.splitlines()[0]}). "
            "Start a new run with a smaller batch size or resolution, or use a GPU with more memory."
        )
    if isinstance(exc, MemoryError):
        return (
            f"The worker ran out of memory at batch size {batch} and {resolution}px. "
            "Start a new run with a smaller batch size, or give the worker more memory."
        )
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return (
            f"Disk full while writing {exc.filename or 'a file'}: free space on the worker's disk "
            f"({settings.TRAINING_WORK_DIR}) or in storage, then resume the run."
        )
    if isinstance(exc, FileNotFoundError):
        return f"A file the run needs is missing: {message}"
    if isinstance(exc, TrainingProcessError):
        return message  # already readable: rank 0 wrote it with this function
    return f"{type(exc).__name__}: {message}"


def _finish(run_id: int, token: str, **fields: Any) -> bool:
    close_old_connections()
    with transaction.atomic():
        run = TrainingRun.objects.select_for_update().filter(pk=run_id).first()
        if run is None or run.lease_token != token:
            return False
        if fields.get("status") == Status.SUCCEEDED and run.status == Status.CANCELLING:
            fields["status"] = Status.CANCELLED  # cancelled after the last step: honour it
        for key, value in {
            **fields,
            "finished": timezone.now(),
            "lease_token": "",
            "heartbeat": timezone.now(),
        }.items():
            setattr(run, key, value)
        run.save()
    return True


def train_claimed_run(run_id: int, worker: str | None = None) -> str:
    """Claim the run and train it to the end, a cancel, or a failure; return
    what happened (for the task's log)."""
    with stacks_on_sigusr1():
        return _train_claimed_run(run_id, worker)


def _train_claimed_run(run_id: int, worker: str | None) -> str:
    worker = worker or worker_name()
    token = claim(run_id, worker)
    if token is None:
        return "skipped"
    heartbeat = Heartbeat(run_id, token, float(settings.TRAINING_HEARTBEAT_SECONDS))
    heartbeat.start()
    run = TrainingRun.objects.select_related("dataset", "genre").get(pk=run_id)
    try:
        outcome, fields = _train(run, token, heartbeat)
    except LeaseLost:
        outcome, fields = "lease lost", None
    except Exception as exc:  # every failure ends as a readable error on the run's page
        logger.exception("Run %s failed", run_id)
        outcome, fields = "failed", {"status": Status.FAILED, "error": readable_error(exc, run)}
    finally:
        heartbeat.stop()
    if heartbeat.lost.is_set() and heartbeat.error is None:
        logger.warning("Run %s: another worker took the run over; this task stops here.", run_id)
        return "lease lost"
    if heartbeat.error is not None and fields is not None and fields.get("status") != Status.FAILED:
        fields = {"status": Status.FAILED, "error": f"Lost the database connection: {heartbeat.error}"}
    if fields is not None and not _finish(run_id, token, **fields):
        return "lease lost"
    return outcome


def _train(run: TrainingRun, token: str, heartbeat: Heartbeat) -> tuple[str, dict[str, Any]]:
    from training.engine.checkpoint import checkpoint_metadata, latest_checkpoint
    from training.engine.loop import TrainCallbacks, train
    from training.engine.options import TrainConfig

    config_dict = dict(run.config)
    config_dict["device"] = settings.TORCH_DEVICE
    config = TrainConfig.from_dict(config_dict)
    run_dir = Path(settings.TRAINING_WORK_DIR) / f"run-{run.pk}"
    run_dir.mkdir(parents=True, exist_ok=True)

    dataset_path = _local_dataset(run)
    _fetch_latest_checkpoint(run, run_dir)
    latest = latest_checkpoint(run_dir)
    start_step, start_kimg = 0, 0.0
    if latest is not None:
        meta = checkpoint_metadata(latest)
        start_step, start_kimg = int(meta.get("step", 0)), float(meta.get("kimg", 0.0))
        logger.info("Run %s resumes from %s (step %s, %s kimg)", run.pk, latest.name, start_step, start_kimg)
    # Work after the checkpoint we resume from was lost with the old worker:
    # forget its samples and history so they are drawn again.
    for sample in TrainingSample.objects.filter(run=run, kimg__gt=start_kimg + 1e-9):
        sample.image.delete(save=False)
        sample.delete()
    run.history = [h for h in run.history if h.get("kimg", 0) <= start_kimg + 1e-9]

    device = node_device()
    processes = training_processes(device)
    # The trimmed history is saved too: rank 0 under torchrun reads it from the row.
    TrainingRun.objects.filter(pk=run.pk, lease_token=token).update(
        device=f"{device.device} ×{processes}", history=run.history
    )
    if processes > 1:
        kimg, final_step, stopped, history = _train_under_torchrun(
            run, token, heartbeat, config, dataset_path, run_dir, start_step, processes
        )
    else:

        class Callbacks(RunCallbacks, TrainCallbacks):
            pass

        callbacks = Callbacks(run, token, heartbeat, start_step)
        result = train(config, dataset_path, run_dir, callbacks=callbacks, resume="auto", progress=False)
        kimg, final_step, stopped, history = result.kimg, result.steps, result.stopped, callbacks.history
    if heartbeat.lost.is_set():
        raise LeaseLost(f"run {run.pk} was taken over by another worker")
    fields: dict[str, Any] = {
        "kimg_done": float(kimg),
        "step": int(final_step),
        "steps_trained": run.steps_trained + max(0, int(final_step) - start_step),
        "history": history,
        "eta_seconds": 0.0 if not stopped else None,
    }
    if stopped:
        return "cancelled", {**fields, "status": Status.CANCELLED}
    return "succeeded", {**fields, "status": Status.SUCCEEDED}


def _train_under_torchrun(
    run: TrainingRun,
    token: str,
    heartbeat: Heartbeat,
    config: Any,
    dataset_path: Path,
    run_dir: Path,
    start_step: int,
    processes: int,
) -> tuple[float, int, bool, list[dict[str, Any]]]:
    """Train on every GPU of this node (or several gloo processes on a CPU):
    ``torchrun --standalone --nproc-per-node N``, rank 0 reporting to the row
    (``training.distributed_run``). This task keeps the lease's heartbeat and
    stops the processes if the lease is lost."""
    from .distributed_run import CONFIG_FILE, RESULT_FILE

    if config.batch_size % processes:
        raise ValueError(
            f"Batch size {config.batch_size} does not split over this node's {processes} training processes: "
            f"start a new run with a batch size that is a multiple of {processes}."
        )
    (run_dir / CONFIG_FILE).write_text(json.dumps(config.to_dict()))
    (run_dir / RESULT_FILE).unlink(missing_ok=True)
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={processes}",
        "-m", "training.distributed_run", f"--run-id={run.pk}", f"--token={token}",
        f"--start-step={start_step}", f"--data={dataset_path}", f"--run-dir={run_dir}",
        f"--launcher-pid={os.getpid()}",
    ]  # fmt: skip
    log_path = run_dir / "torchrun.log"
    logger.info("Run %s: %s (log %s)", run.pk, " ".join(cmd[:6]), log_path)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd, cwd=settings.BASE_DIR, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            while proc.poll() is None:
                if heartbeat.lost.wait(1.0):
                    raise LeaseLost(f"run {run.pk} was taken over by another worker")
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
    result_path = run_dir / RESULT_FILE
    result = json.loads(result_path.read_text()) if result_path.exists() else {}
    if result.get("lease_lost"):
        raise LeaseLost(f"run {run.pk} was taken over by another worker")
    if "error" in result:
        raise TrainingProcessError(result["error"])
    if proc.returncode != 0 or "kimg" not in result:
        tail = log_path.read_text(errors="replace")[-1500:]
        raise TrainingProcessError(
            f"torchrun exited with status {proc.returncode} before the run finished; "
            f"the end of {log_path} says:\n{tail}"
        )
    return float(result["kimg"]), int(result["steps"]), bool(result["stopped"]), result["history"]
