"""Celery tasks of training runs (queue ``gpu``, routed by module).

Thin: load by id and hand over to ``training.runner``, imported inside the
task so the worker's parent process never imports torch or touches CUDA.
"""

from __future__ import annotations

from celery import shared_task

from . import worker_presence  # noqa: F401 - connects the worker's presence reporting


@shared_task(name="training.tasks.train_run", bind=True)
def train_run(self, run_id: int) -> str:
    """Train run ``run_id`` unless another task holds its lease; safe to deliver twice."""
    from .runner import train_claimed_run, worker_name

    return train_claimed_run(run_id, worker=worker_name(self.request.hostname))
