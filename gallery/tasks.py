"""Celery tasks that paint the rooms (queue ``gpu``, routed by module).

Thin: load the checkpoint by id and call ``gallery.generation``; torch is
imported there, inside the functions, so the worker's parent never loads it.
"""

from __future__ import annotations

from celery import shared_task

from training.models import Checkpoint


@shared_task(name="gallery.tasks.generate_artworks")
def generate_artworks(checkpoint_id: int, count: int, psi: float = 0.7) -> list[int]:
    """Paint ``count`` new artworks from checkpoint ``checkpoint_id``; return their ids."""
    from .generation import generate_artworks as paint

    checkpoint = Checkpoint.objects.get(pk=checkpoint_id)
    return [artwork.pk for artwork in paint(checkpoint, count, psi=psi)]


@shared_task(name="gallery.tasks.build_mixing_exhibit")
def build_mixing_exhibit(checkpoint_id: int, rows: int, columns: int) -> int:
    """Build a style-mixing exhibit from checkpoint ``checkpoint_id``; return its id."""
    from .generation import build_mixing_exhibit as build

    return build(Checkpoint.objects.get(pk=checkpoint_id), rows, columns).pk
