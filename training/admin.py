"""Admin for training runs: start one, watch it, cancel or resume it, publish
its checkpoints and ask them for paintings.

Every page and button checks a permission: ``training.start_training`` to
start, cancel and resume; ``training.publish_checkpoint`` to publish and
generate; the view permission to watch. Curators hold none of these.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat, floatformat
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from . import services
from .charts import run_charts
from .forms import PRESET_LABELS, GenerateForm, MixingForm, StartRunForm
from .models import Checkpoint, Dataset, GenerationSchedule, TrainingRun, TrainingSample

START_PERM = "training.start_training"
PUBLISH_PERM = "training.publish_checkpoint"
VIEW_PERM = "training.view_trainingrun"


def require_perm(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "genre",
        "status",
        "progress",
        "images_per_second_display",
        "heartbeat",
        "worker",
    )
    list_filter = ("status", "genre")
    list_select_related = ("genre",)
    ordering = ("-created",)

    @admin.display(description=gettext_lazy("progress"))
    def progress(self, run: TrainingRun) -> str:
        # Numbers are formatted first: format_html escapes (stringifies) its arguments.
        return format_html(
            '<progress max="100" value="{}"></progress> {} / {} kimg',
            f"{run.progress_percent:.1f}",
            f"{run.kimg_done:.3g}",
            f"{run.target_kimg:g}",
        )

    @admin.display(description=gettext_lazy("images/s"))
    def images_per_second_display(self, run: TrainingRun) -> str:
        return f"{run.images_per_second:.1f}" if run.images_per_second else "—"

    # Runs are started through the start form and never edited by hand.
    def has_add_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm(START_PERM)

    def has_change_permission(self, request: HttpRequest, obj: TrainingRun | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: TrainingRun | None = None) -> bool:
        return request.user.is_superuser and (obj is None or not obj.is_active)

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        return redirect("admin:training_trainingrun_start")

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("start/", wrap(self.start_view), name="training_trainingrun_start"),
            path(
                "<int:run_id>/cancel/",
                wrap(require_POST(self.cancel_view)),
                name="training_trainingrun_cancel",
            ),
            path(
                "<int:run_id>/resume/",
                wrap(require_POST(self.resume_view)),
                name="training_trainingrun_resume",
            ),
            path(
                "<int:run_id>/samples/<int:sample_id>/",
                wrap(self.sample_view),
                name="training_trainingrun_sample",
            ),
            path(
                "checkpoint/<int:checkpoint_id>/publish/",
                wrap(require_POST(self.publish_view)),
                name="training_checkpoint_publish",
            ),
            path(
                "checkpoint/<int:checkpoint_id>/generate/",
                wrap(require_POST(self.generate_view)),
                name="training_checkpoint_generate",
            ),
            path(
                "checkpoint/<int:checkpoint_id>/mix/",
                wrap(require_POST(self.mix_view)),
                name="training_checkpoint_mix",
            ),
            *super().get_urls(),
        ]

    # Pages ----------------------------------------------------------------------------------

    def start_view(self, request: HttpRequest) -> HttpResponse:
        require_perm(request, START_PERM)
        if request.method == "POST":
            form = StartRunForm(request.POST, preset=request.POST.get("preset", services.DEFAULT_PRESET))
            if form.is_valid():
                try:
                    run = services.start_run(
                        form.cleaned_data["genre"],
                        preset=form.cleaned_data["preset"],
                        overrides={k: form.cleaned_data[k] for k in form.OPTION_FIELDS},
                        user=request.user,
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    messages.success(request, _("Run %(run)s is queued for a GPU worker.") % {"run": run.pk})
                    return redirect("admin:training_trainingrun_change", run.pk)
        else:
            form = StartRunForm(preset=request.GET.get("preset", services.DEFAULT_PRESET))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Start a training run"),
            "opts": self.model._meta,
            "form": form,
            "presets": [(key, label, key == form["preset"].value()) for key, label in PRESET_LABELS.items()],
            "minimum": settings.TRAINING_MIN_IMAGES,
        }
        return TemplateResponse(request, "admin/training/trainingrun/start.html", context)

    def change_view(self, request: HttpRequest, object_id: str, form_url: str = "", extra_context=None):
        run = self.get_object(request, object_id)
        if run is None:
            raise Http404(_("No training run with id %(id)s.") % {"id": object_id})
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        samples = list(run.samples.order_by("kimg"))
        checkpoints = list(run.checkpoints.order_by("kimg"))
        context = {
            **self.admin_site.each_context(request),
            "title": str(run),
            "opts": self.model._meta,
            "original": run,
            "run": run,
            "config": run.config,
            "network": run.config.get("network", {}),
            "eta": format_duration(run.eta_seconds),
            "charts": run_charts(run.history),
            "samples": samples,
            "last_sample": samples[-1] if samples else None,
            "checkpoints": checkpoints,
            "can_start": request.user.has_perm(START_PERM),
            "can_publish": request.user.has_perm(PUBLISH_PERM),
            "generate_form": GenerateForm(auto_id=False),
            "mixing_form": MixingForm(auto_id=False),
            "can_cancel": run.status in (TrainingRun.Status.QUEUED, TrainingRun.Status.RUNNING),
            "can_resume": run.status in (TrainingRun.Status.CANCELLED, TrainingRun.Status.FAILED),
            "stale": run.status == TrainingRun.Status.RUNNING and not run.heartbeat_is_fresh(),
            "refresh": run.is_active,
        }
        return TemplateResponse(request, "admin/training/trainingrun/run.html", context)

    def sample_view(self, request: HttpRequest, run_id: int, sample_id: int) -> FileResponse:
        run = get_object_or_404(TrainingRun, pk=run_id)
        if not self.has_view_permission(request, run):
            raise PermissionDenied
        sample = get_object_or_404(TrainingSample, pk=sample_id, run=run)
        try:
            handle = sample.image.open("rb")
        except FileNotFoundError as exc:
            raise Http404(_("The sample grid file is missing from storage.")) from exc
        return FileResponse(handle, content_type="image/png")

    # Buttons (POST only) ---------------------------------------------------------------------

    def _back(self, run_id: int) -> HttpResponseRedirect:
        return redirect(reverse("admin:training_trainingrun_change", args=[run_id]))

    def _apply(self, request: HttpRequest, action, success: str) -> None:
        try:
            action()
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            messages.success(request, success)

    def cancel_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        require_perm(request, START_PERM)
        run = get_object_or_404(TrainingRun, pk=run_id)
        self._apply(
            request, lambda: services.cancel_run(run), _("Run %(run)s is being cancelled.") % {"run": run.pk}
        )
        return self._back(run.pk)

    def resume_view(self, request: HttpRequest, run_id: int) -> HttpResponse:
        require_perm(request, START_PERM)
        run = get_object_or_404(TrainingRun, pk=run_id)
        self._apply(
            request,
            lambda: services.resume_run(run),
            _("Run %(run)s is queued again; it resumes from its latest checkpoint.") % {"run": run.pk},
        )
        return self._back(run.pk)

    def publish_view(self, request: HttpRequest, checkpoint_id: int) -> HttpResponse:
        require_perm(request, PUBLISH_PERM)
        checkpoint = get_object_or_404(Checkpoint, pk=checkpoint_id)
        form = GenerateForm(request.POST)
        first_batch = form.cleaned_data["count"] if form.is_valid() and request.POST.get("first_batch") else 0
        psi = form.cleaned_data["psi"] if form.is_valid() else 0.7
        services.publish_checkpoint(checkpoint, first_batch=first_batch, psi=psi)
        messages.success(
            request,
            _("%(checkpoint)s now paints the %(genre)s room.")
            % {"checkpoint": checkpoint, "genre": checkpoint.run.genre.display_name},
        )
        return self._back(checkpoint.run_id)

    def generate_view(self, request: HttpRequest, checkpoint_id: int) -> HttpResponse:
        require_perm(request, PUBLISH_PERM)
        checkpoint = get_object_or_404(Checkpoint, pk=checkpoint_id)
        form = GenerateForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")
            return self._back(checkpoint.run_id)
        services.queue_generation(checkpoint, form.cleaned_data["count"], form.cleaned_data["psi"])
        messages.success(
            request,
            _("%(count)d paintings from %(checkpoint)s are queued for a GPU worker.")
            % {"count": form.cleaned_data["count"], "checkpoint": checkpoint},
        )
        return self._back(checkpoint.run_id)

    def mix_view(self, request: HttpRequest, checkpoint_id: int) -> HttpResponse:
        require_perm(request, PUBLISH_PERM)
        checkpoint = get_object_or_404(Checkpoint, pk=checkpoint_id)
        form = MixingForm(request.POST)
        if not form.is_valid():
            for field, errors in form.errors.items():
                messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")
            return self._back(checkpoint.run_id)
        services.queue_mixing_exhibit(checkpoint, form.cleaned_data["rows"], form.cleaned_data["columns"])
        messages.success(
            request, _("A style-mixing exhibit from %(checkpoint)s is queued.") % {"checkpoint": checkpoint}
        )
        return self._back(checkpoint.run_id)


def short_hash(sha256: str) -> str:
    """The first 12 hex digits (enough to tell files apart), the whole hash on hover."""
    return format_html('<code title="{}">{}…</code>', sha256, sha256[:12]) if sha256 else "—"


@admin.register(Checkpoint)
class CheckpointAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "run",
        "kimg_display",
        "metric_display",
        "size_display",
        "published",
        "created",
    )
    list_filter = ("published", "run__genre")
    list_select_related = ("run", "run__genre")
    readonly_fields = (
        "run",
        "kimg_display",
        "step",
        "file",
        "sha256",
        "size_display",
        "metric_display",
        "published",
        "created",
    )

    @admin.display(description=gettext_lazy("kimg"), ordering="kimg")
    def kimg_display(self, checkpoint: Checkpoint) -> str:
        return f"{checkpoint.kimg:g}"

    @admin.display(description=gettext_lazy("quality (SWD, lower is better)"), ordering="metric")
    def metric_display(self, checkpoint: Checkpoint) -> str:
        return floatformat(checkpoint.metric, 2) if checkpoint.metric is not None else "—"

    @admin.display(description=gettext_lazy("size"), ordering="size")
    def size_display(self, checkpoint: Checkpoint) -> str:
        return filesizeformat(checkpoint.size)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Checkpoint | None = None) -> bool:
        return False


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ("__str__", "genre", "resolution", "image_count", "hash_display", "created")
    list_filter = ("genre",)
    readonly_fields = ("genre", "resolution", "image_count", "packed_file", "sha256", "skipped", "created")
    exclude = ("images",)

    @admin.display(description=gettext_lazy("SHA-256"), ordering="sha256")
    def hash_display(self, dataset: Dataset) -> str:
        return short_hash(dataset.sha256)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Dataset | None = None) -> bool:
        return False


@admin.register(GenerationSchedule)
class GenerationScheduleAdmin(admin.ModelAdmin):
    list_display = ("genre", "enabled", "every_hours", "count", "psi", "last_queued")
    list_editable = ("enabled", "every_hours", "count", "psi")
    readonly_fields = ("last_queued",)
