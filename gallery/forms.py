"""Admin forms that ask a checkpoint for paintings and mixing exhibits."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Genre


class RoomForm(forms.Form):
    """A choice of room for a class-conditional checkpoint (one class per
    room); blank means every room it paints. Absent for a one-room model."""

    def __init__(self, *args: Any, checkpoint=None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checkpoint = checkpoint
        rooms = checkpoint.run.rooms if checkpoint is not None else []
        if len(rooms) > 1:
            self.fields["genre"] = forms.ModelChoiceField(
                queryset=Genre.objects.filter(pk__in=[g.pk for g in rooms]),
                required=False,
                empty_label=_("every room it paints"),
                label=_("Room"),
            )

    def rooms(self, checkpoint) -> list[Genre]:
        """The rooms to paint: the chosen one, or all of the checkpoint's."""
        chosen = self.cleaned_data.get("genre")
        return [chosen] if chosen is not None else list(checkpoint.run.rooms)


class GenerateForm(RoomForm):
    count = forms.IntegerField(min_value=1, max_value=1000, initial=16, label=_("Paintings"))
    psi = forms.FloatField(min_value=0.0, max_value=2.0, initial=0.7, label=_("Truncation ψ"))
    cutoff = forms.IntegerField(
        min_value=1,
        required=False,
        label=_("on the first style layers"),
        help_text=_("ψ applies to the first N style layers only (the coarse ones); empty: to all of them."),
        widget=forms.NumberInput(attrs={"size": 3, "placeholder": _("all")}),
    )

    def clean_cutoff(self) -> int | None:
        from training.engine.config import NetworkConfig

        cutoff = self.cleaned_data.get("cutoff")
        resolution = self.checkpoint.run.resolution if self.checkpoint is not None else None
        if cutoff is not None and resolution:
            layers = NetworkConfig(resolution=int(resolution)).num_ws
            if cutoff > layers:
                raise forms.ValidationError(
                    _("This %(resolution)d px model has %(layers)d style layers; %(cutoff)d is more."),
                    params={"resolution": resolution, "layers": layers, "cutoff": cutoff},
                )
        return cutoff


class PublishForm(forms.Form):
    """Publishing's first batch: how many paintings per room (each room is
    painted as its refresh schedule says: ``services.queue_first_batches``)."""

    count = forms.IntegerField(min_value=1, max_value=1000, initial=16, label=_("Paintings"))


class MixingForm(RoomForm):
    rows = forms.IntegerField(min_value=1, max_value=8, initial=3, label=_("Rows (sources A)"))
    columns = forms.IntegerField(min_value=1, max_value=8, initial=4, label=_("Columns (sources B)"))
