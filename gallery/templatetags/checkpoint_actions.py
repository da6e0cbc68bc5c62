"""The gallery's buttons for one checkpoint (publish, paint, mix), drawn on the
training run's admin page so training's templates need no gallery code."""

from __future__ import annotations

from django import template

from gallery.forms import GenerateForm, MixingForm
from training.models import Checkpoint

register = template.Library()


@register.inclusion_tag("admin/gallery/checkpoint_actions.html", takes_context=True)
def checkpoint_actions(context: template.Context, checkpoint: Checkpoint) -> dict:
    from gallery.services import paints_room

    rooms = checkpoint.run.rooms
    return {
        "checkpoint": checkpoint,
        "csrf_token": context.get("csrf_token"),
        "generate_form": GenerateForm(auto_id=False, checkpoint=checkpoint),
        "mixing_form": MixingForm(auto_id=False, checkpoint=checkpoint),
        "several_rooms": len(rooms) > 1,
        # A class-conditional model paints several rooms; say which it paints now.
        "painting_rooms": [g for g in rooms if paints_room(checkpoint, g)]
        if len(rooms) > 1 and checkpoint.published
        else [],
    }
