"""The gallery's buttons for one checkpoint (publish, paint, mix), drawn on the
training run's admin page so training's templates need no gallery code."""

from __future__ import annotations

from django import template

from gallery.forms import GenerateForm, MixingForm
from training.models import Checkpoint

register = template.Library()


@register.inclusion_tag("admin/gallery/checkpoint_actions.html", takes_context=True)
def checkpoint_actions(context: template.Context, checkpoint: Checkpoint) -> dict:
    return {
        "checkpoint": checkpoint,
        "csrf_token": context.get("csrf_token"),
        "generate_form": GenerateForm(auto_id=False),
        "mixing_form": MixingForm(auto_id=False),
    }
