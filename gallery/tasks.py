"""Celery tasks that paint the rooms (queue ``gpu``, routed by module).

Thin: hand the request's id to ``gallery.services.carry_out``, which claims
the row and calls ``gallery.generation``; torch is imported there, inside the
functions, so the worker's parent never loads it.
"""

from __future__ import annotations

from celery import shared_task

from museum.stacks import stacks_on_sigusr1


@shared_task(name="gallery.tasks.generate_artworks")
def generate_artworks(request_id: int) -> str:
    """Paint the artworks painting request ``request_id`` asks for; safe to deliver twice."""
    from .services import carry_out

    with stacks_on_sigusr1():
        return carry_out(request_id)


@shared_task(name="gallery.tasks.build_mixing_exhibit")
def build_mixing_exhibit(request_id: int) -> str:
    """Build the mixing exhibit painting request ``request_id`` asks for; safe to deliver twice."""
    from .services import carry_out

    with stacks_on_sigusr1():
        return carry_out(request_id)
