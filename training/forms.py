"""Admin form of training runs: start a run."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from gallery.models import Genre
from scraper.models import ScrapedImage
from training.engine.option_fields import OptionSpec, option_specs

from .datasets import too_few_images
from .durations import format_duration
from .estimates import Estimate, estimate
from .models import WorkerNode
from .services import DEFAULT_PRESET, PRESETS, build_config
from .worker_presence import live_workers

PRESET_LABELS = {
    "smoke": _("Smoke test (seconds; checks a worker end to end)"),
    "cpu": _("CPU (32px, small networks; minutes)"),
    "gpu": _("GPU (256px, the paper's networks; days)"),
}


def genre_label(obj: Genre) -> str:
    return _("%(genre)s: %(count)d approved images") % {
        "genre": obj.display_name,
        "count": obj.approved_count,
    }


class GenreChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Genre) -> str:
        return genre_label(obj)


class GenresChoiceField(forms.ModelMultipleChoiceField):
    def label_from_instance(self, obj: Genre) -> str:
        return genre_label(obj)


def genres_with_counts():
    return Genre.objects.annotate(
        approved_count=Count("scraped_images", filter=Q(scraped_images__status=ScrapedImage.Status.APPROVED))
    )


def option_messages(spec: OptionSpec) -> tuple[str, str]:
    """The English label and help text of one engine option on the start form, the
    msgids its translations are found by. They are made from the engine's declaration
    here, so `makemessages` cannot find them in the source: this project's
    `makemessages` (training/management/commands/) adds them to the catalogue."""
    # The engine's "none = ..." is a blank field here.
    help_text = (spec.help[:1].upper() + spec.help[1:]).replace("none = ", "blank = ") if spec.help else ""
    return spec.title, help_text


def option_field(spec: OptionSpec) -> forms.Field:
    """The form field of one engine option: its type, bounds and choices from the
    option's declaration (``training.engine.option_fields``)."""
    label, help_text = option_messages(spec)
    common: dict[str, Any] = {
        "label": gettext(label),
        "help_text": gettext(help_text) if help_text else "",
        "required": not spec.optional and spec.kind is not bool,
    }
    if spec.kind is bool:
        return forms.BooleanField(**common)
    if spec.choices is not None:
        choices = [(c, f"{c}×{c}" if spec.name == "resolution" else str(c)) for c in spec.choices]
        return forms.TypedChoiceField(choices=choices, coerce=spec.kind, **common)
    bounds = {"min_value": spec.minimum, "max_value": spec.maximum}
    if spec.kind is int:
        return forms.IntegerField(**bounds, **common)
    if spec.kind is float:
        return forms.FloatField(**bounds, **common)
    return forms.CharField(max_length=200, **common)


def admin_options() -> list[OptionSpec]:
    """The options staff may set, the usual ones first."""
    specs = [s for s in option_specs() if s.admin]
    return [s for s in specs if s.basic] + [s for s in specs if not s.basic]


class StartRunForm(forms.Form):
    """Every engine option the admin offers, derived from the engine's option
    declarations; the preset fills in the initial values."""

    genre = GenreChoiceField(queryset=Genre.objects.none(), label=_("Genre (room)"))
    # One class-conditional model for several rooms: each genre is a class.
    also = GenresChoiceField(
        queryset=Genre.objects.none(),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        label=_("Also paint these rooms (one class-conditional model)"),
        help_text=_(
            "Leave empty for a model of one room. Ticked genres are trained together with the genre above, "
            "each as a class of one model, and each room is painted from its own class."
        ),
    )
    preset = forms.ChoiceField(
        choices=[(k, PRESET_LABELS.get(k, k)) for k in PRESETS], widget=forms.HiddenInput
    )
    # Set by the "Start anyway" button after the form warned about the run.
    confirmed = forms.BooleanField(required=False, widget=forms.HiddenInput)

    def __init__(self, *args: Any, preset: str = DEFAULT_PRESET, **kwargs: Any) -> None:
        if preset not in PRESETS:
            preset = DEFAULT_PRESET
        defaults = build_config(preset)
        specs = admin_options()
        initial: dict[str, Any] = {"preset": preset}
        for spec in specs:
            section = defaults["network"] if spec.section == "network" else defaults
            initial[spec.name] = section[spec.name]
        kwargs["initial"] = {**initial, **(kwargs.get("initial") or {})}
        super().__init__(*args, **kwargs)
        if self.is_bound:
            # An option the POST leaves out keeps the preset's value (an unchecked box means False).
            data = self.data.copy()
            for spec in specs:
                if spec.name not in data and spec.kind is not bool:
                    value = initial[spec.name]
                    data[spec.name] = "" if value is None else str(value)
            self.data = data
        for spec in specs:
            self.fields[spec.name] = option_field(spec)
        self.OPTION_FIELDS = tuple(spec.name for spec in specs)
        self.basic_fields = [self["genre"], self["also"]] + [self[s.name] for s in specs if s.basic]
        self.advanced_fields = [self[s.name] for s in specs if not s.basic]
        self.fields["genre"].queryset = genres_with_counts()
        self.fields["also"].queryset = genres_with_counts()
        self.config: dict[str, Any] | None = None

    def clean_genre(self) -> Genre:
        genre = self.cleaned_data["genre"]
        if genre.approved_count < settings.TRAINING_MIN_IMAGES:
            raise too_few_images(genre, genre.approved_count)
        return genre

    def clean_also(self) -> list[Genre]:
        chosen = sorted(self.cleaned_data["also"], key=lambda g: (g.position, g.pk))
        short = [g for g in chosen if g.approved_count < settings.TRAINING_MIN_IMAGES]
        if short:
            raise ValidationError([too_few_images(g, g.approved_count) for g in short])
        return chosen

    @property
    def rooms(self) -> list[Genre]:
        """The genres the run's model would paint, its genre first."""
        genre = self.cleaned_data["genre"]
        return [genre, *[g for g in self.cleaned_data.get("also") or [] if g.pk != genre.pk]]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if self.errors:
            return cleaned
        overrides = {k: cleaned[k] for k in self.OPTION_FIELDS}
        if len(self.rooms) > 1:
            overrides["num_classes"] = len(self.rooms)
        if cleaned["checkpoint_kimg"] > cleaned["total_kimg"]:
            self.add_error("checkpoint_kimg", _("Checkpoint at least once: use at most the target length."))
            return cleaned
        self.config = build_config(cleaned["preset"], overrides)
        return cleaned


@dataclass
class StartAssessment:
    """What staff should know before a run starts: who would train it and how long it would take."""

    workers: list[WorkerNode]
    estimate: Estimate | None
    device: str
    warnings: list[str] = field(default_factory=list)
    needs_confirmation: bool = False

    @property
    def time_text(self) -> str:
        return format_duration(self.estimate.seconds if self.estimate else None)

    @property
    def speed_text(self) -> str:
        return f"{self.estimate.images_per_second:.3g}" if self.estimate else "—"


def assess_start(config: dict[str, Any]) -> StartAssessment:
    """Which workers take training runs now, and the run's estimated time on the fastest of them."""
    workers = live_workers("gpu")
    device = "cuda" if any(w.device == "cuda" for w in workers) else "cpu"
    found = estimate(config, device)
    result = StartAssessment(workers=workers, estimate=found, device=device)
    if not workers:
        result.warnings.append(
            gettext(
                "No worker takes training runs now: the run waits in the queue until a worker "
                "with the gpu queue starts."
            )
        )
    elif device == "cpu" and config["network"]["resolution"] >= 256:
        result.warnings.append(
            gettext("Only CPU workers are running: %(res)d px is meant for a GPU.")
            % {"res": config["network"]["resolution"]}
        )
    if found is not None and found.seconds > settings.TRAINING_CONFIRM_HOURS * 3600:
        result.warnings.append(
            gettext(
                "This run would take %(time)s, more than %(hours)d hours: press “Start anyway” to queue it."
            )
            % {"time": result.time_text, "hours": settings.TRAINING_CONFIRM_HOURS}
        )
        result.needs_confirmation = True
    elif found is None and workers and device == "cpu" and config["network"]["resolution"] >= 256:
        result.needs_confirmation = True
    return result
