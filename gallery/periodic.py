"""Periodic refresh of the rooms (queue ``default``, run by beat every few minutes).

Each genre's schedule is a ``training.GenerationSchedule`` row that staff edit
in the admin (how often, how many, which ψ); publishing a checkpoint creates
one. This task only asks ``gallery.services`` to queue what is due on ``gpu``.
"""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="gallery.periodic.refresh_rooms")
def refresh_rooms() -> list[int]:
    """Queue a batch for every room whose schedule is due and whose genre has
    a published checkpoint; return the checkpoint ids queued."""
    return services.queue_due_refreshes()


@shared_task(name="gallery.periodic.resend_waiting_paintings")
def resend_waiting_paintings() -> list[int]:
    """Send again painting requests that are queued but not taken (the broker
    was down when they were made); return their ids."""
    return services.resend_waiting_requests()
