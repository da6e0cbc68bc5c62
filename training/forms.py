"""Admin form of training runs: start a run."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.translation import gettext_lazy as _

from gallery.models import Genre
from scraper.models import ScrapedImage

from .services import DEFAULT_PRESET, PRESETS, build_config

RESOLUTIONS = [(r, f"{r}×{r}") for r in (32, 64, 128, 256, 512, 1024)]
STYLE_MODES = [
    ("modulated", _("modulated (StyleGAN2, no droplet artefacts)")),
    ("adain", _("AdaIN (the 2018 StyleGAN)")),
]
PRESET_LABELS = {
    "smoke": _("Smoke test (seconds; checks a worker end to end)"),
    "cpu": _("CPU (32px, small networks; minutes)"),
    "gpu": _("GPU (256px, the paper's networks; days)"),
}


class GenreChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Genre) -> str:
        return _("%(genre)s: %(count)d approved images") % {
            "genre": obj.display_name,
            "count": obj.approved_count,
        }


def genres_with_counts():
    return Genre.objects.annotate(
        approved_count=Count("scraped_images", filter=Q(scraped_images__status=ScrapedImage.Status.APPROVED))
    )


class StartRunForm(forms.Form):
    """The options staff usually change; the preset fills in the rest (network widths, learning rates)."""

    genre = GenreChoiceField(queryset=Genre.objects.none(), label=_("Genre (room)"))
    preset = forms.ChoiceField(
        choices=[(k, PRESET_LABELS.get(k, k)) for k in PRESETS], widget=forms.HiddenInput
    )
    resolution = forms.TypedChoiceField(choices=RESOLUTIONS, coerce=int, label=_("Resolution"))
    total_kimg = forms.FloatField(
        min_value=0.001, label=_("Target length (kimg)"), help_text=_("Thousands of real images shown to D.")
    )
    batch_size = forms.IntegerField(min_value=1, max_value=1024, label=_("Batch size"))
    style_mode = forms.ChoiceField(choices=STYLE_MODES, label=_("Style mode"))
    r1_gamma = forms.FloatField(
        min_value=0,
        required=False,
        label=_("R1 γ"),
        help_text=_("Leave blank for 0.0002 × resolution² / batch (≈ 0.82 at 256², batch 16)."),
    )
    ada = forms.BooleanField(required=False, label=_("Adaptive augmentation (ADA)"))
    ada_target = forms.FloatField(min_value=0.01, max_value=0.99, label=_("ADA target r_t"))
    mirror = forms.BooleanField(required=False, label=_("Mirror (x-flips)"))
    tick_kimg = forms.FloatField(min_value=0.001, label=_("Sample grid every (kimg)"))
    checkpoint_kimg = forms.FloatField(min_value=0.001, label=_("Checkpoint every (kimg)"))
    seed = forms.IntegerField(min_value=0, label=_("Seed"))

    OPTION_FIELDS = (
        "resolution",
        "total_kimg",
        "batch_size",
        "style_mode",
        "r1_gamma",
        "ada",
        "ada_target",
        "mirror",
        "tick_kimg",
        "checkpoint_kimg",
        "seed",
    )

    def __init__(self, *args: Any, preset: str = DEFAULT_PRESET, **kwargs: Any) -> None:
        if preset not in PRESETS:
            preset = DEFAULT_PRESET
        defaults = build_config(preset)
        initial = {
            "preset": preset,
            "resolution": defaults["network"]["resolution"],
            "style_mode": defaults["network"]["style_mode"],
            **{
                k: defaults[k]
                for k in self.OPTION_FIELDS
                if k in defaults and k not in ("resolution", "style_mode")
            },
        }
        kwargs["initial"] = {**initial, **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)
        self.fields["genre"].queryset = genres_with_counts()
        self.config: dict[str, Any] | None = None

    def clean_genre(self) -> Genre:
        genre = self.cleaned_data["genre"]
        minimum = settings.TRAINING_MIN_IMAGES
        if genre.approved_count < minimum:
            raise ValidationError(
                _(
                    "%(genre)s has only %(count)d approved images; a training run needs at least %(minimum)d. "
                    "Approve more images in the curation queue first."
                ),
                params={"genre": genre.display_name, "count": genre.approved_count, "minimum": minimum},
                code="too_few_images",
            )
        return genre

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        overrides = {k: cleaned[k] for k in self.OPTION_FIELDS}
        if cleaned["checkpoint_kimg"] > cleaned["total_kimg"]:
            self.add_error("checkpoint_kimg", _("Checkpoint at least once: use at most the target length."))
            return cleaned
        self.config = build_config(cleaned["preset"], overrides)
        return cleaned
