"""Admin for training runs: start one, watch it, cancel or resume it.

Every page and button checks a permission: ``training.start_training`` to
start, cancel and resume; the view permission to watch. Curators hold none of
these. The buttons that publish a checkpoint and paint from it are the
gallery's (``gallery.admin``), shown on the run page by a gallery template tag.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.defaultfilters import filesizeformat, floatformat
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from museum.queueing import broker_was_down

from . import services
from .charts import run_charts
from .checkpoint_quality import report_view
from .durations import format_duration
from .forms import PRESET_LABELS, StartRunForm, assess_start
from .models import Checkpoint, Dataset, TrainingRun, TrainingSample, WorkerNode

START_PERM = "training.start_training"
PUBLISH_PERM = "training.publish_checkpoint"
VIEW_PERM = "training.view_trainingrun"


def require_perm(request: HttpRequest, perm: str) -> None:
    if not request.user.has_perm(perm):
        raise PermissionDenied


def queued_message(run_id: int, assessment) -> str:
    """The truth about who will train the run, for the message after it is queued."""
    if not assessment.workers:
        return _(
            "Run %(run)s is queued. No worker takes training runs now: it starts when a worker "
            "with the gpu queue is running."
        ) % {"run": run_id}
    return _("Run %(run)s is queued for %(workers)s.") % {
        "run": run_id,
        "workers": ", ".join(w.describe() for w in assessment.workers),
    }


def saved_not_sent(run: TrainingRun) -> str:
    return _(
        "Run %(run)s is saved as queued, but the task broker is unreachable right now: "
        "it will be sent to a GPU worker as soon as the broker is back (checked every minute)."
    ) % {"run": run.pk}


@admin.register(TrainingRun)
class TrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "__str__",
        "rooms_display",
        "status",
        "progress",
        "images_per_second_display",
        "heartbeat",
        "worker",
    )
    list_filter = ("status", "genre")
    list_select_related = ("genre",)
    ordering = ("-created",)

    def get_queryset(self, request: HttpRequest):
        # A class-conditional run names all its rooms, from its dataset's classes.
        return super().get_queryset(request).prefetch_related("dataset__classes__genre")

    @admin.display(description=gettext_lazy("rooms"), ordering="genre")
    def rooms_display(self, run: TrainingRun) -> str:
        return ", ".join(str(genre) for genre in run.rooms)

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
            *super().get_urls(),
        ]

    # Pages ----------------------------------------------------------------------------------

    def start_view(self, request: HttpRequest) -> HttpResponse:
        require_perm(request, START_PERM)
        assessment = None
        if request.method == "POST":
            form = StartRunForm(request.POST, preset=request.POST.get("preset", services.DEFAULT_PRESET))
            if form.is_valid():
                assessment = assess_start(form.config)
                if assessment.needs_confirmation and not form.cleaned_data["confirmed"]:
                    # Show the warnings and ask again; the second POST carries confirmed=1.
                    form = StartRunForm(
                        {**request.POST.dict(), "confirmed": "on"}, preset=form.cleaned_data["preset"]
                    )
                    form.is_valid()
                else:
                    try:
                        run = services.start_run(
                            form.cleaned_data["genre"],
                            preset=form.cleaned_data["preset"],
                            overrides={k: form.cleaned_data[k] for k in form.OPTION_FIELDS},
                            user=request.user,
                            also=form.rooms[1:],
                        )
                    except ValidationError as exc:
                        form.add_error(None, exc)
                    else:
                        if broker_was_down(run):
                            messages.warning(request, saved_not_sent(run))
                        else:
                            messages.success(request, queued_message(run.pk, assessment))
                        return redirect("admin:training_trainingrun_change", run.pk)
        else:
            form = StartRunForm(preset=request.GET.get("preset", services.DEFAULT_PRESET))
        if assessment is None:
            assessment = assess_start(form.config or services.build_config(form["preset"].value()))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Start a training run"),
            "opts": self.model._meta,
            "form": form,
            "presets": [(key, label, key == form["preset"].value()) for key, label in PRESET_LABELS.items()],
            "minimum": settings.TRAINING_MIN_IMAGES,
            "assessment": assessment,
            "asking": request.method == "POST" and assessment.needs_confirmation and form.is_bound,
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
        rooms = run.rooms if run.is_conditional else []
        for checkpoint in checkpoints:
            checkpoint.report = report_view(checkpoint.quality)
            # A class-conditional model: each room is judged by its own class's report.
            checkpoint.room_reports = [
                (genre, report_view(checkpoint.class_report(genre))) for genre in rooms
            ]
        context = {
            **self.admin_site.each_context(request),
            "title": str(run),
            "opts": self.model._meta,
            "original": run,
            "run": run,
            "config": run.config,
            "network": run.config.get("network", {}),
            # A silent worker's last ETA is a guess about a process that may be
            # gone: the page says what it knows, the last heartbeat's age.
            "eta": format_duration(None if run.worker_is_silent else run.eta_seconds),
            "silent": run.worker_is_silent,
            "heartbeat_age": format_duration(run.heartbeat_age()),
            "waiting_for_broker": run.status == TrainingRun.Status.QUEUED and run.sent_at is None,
            "charts": run_charts(run.history, checkpoints),
            "samples": samples,
            "last_sample": samples[-1] if samples else None,
            "checkpoints": checkpoints,
            "can_start": request.user.has_perm(START_PERM),
            "can_publish": request.user.has_perm(PUBLISH_PERM),
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
        try:
            resumed = services.resume_run(run)
        except ValidationError as exc:
            for message in exc.messages:
                messages.error(request, message)
        else:
            if broker_was_down(resumed):
                messages.warning(request, saved_not_sent(resumed))
            else:
                messages.success(
                    request,
                    _("Run %(run)s is queued again; it resumes from its latest checkpoint.")
                    % {"run": run.pk},
                )
        return self._back(run.pk)


class PrivateFileDownload:
    """A download link and view for a file in the private checkpoint storage,
    which has no public URL (Django's default widget would link to a /media/
    path that does not exist). The view checks the row's view permission."""

    file_field: str

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<int:object_id>/download/",
                self.admin_site.admin_view(self.download_view),
                name=f"{opts.app_label}_{opts.model_name}_download",
            ),
            *super().get_urls(),
        ]

    def download_view(self, request: HttpRequest, object_id: int) -> FileResponse:
        obj = get_object_or_404(self.model, pk=object_id)
        if not self.has_view_permission(request, obj):
            raise PermissionDenied
        file = getattr(obj, self.file_field)
        if not file:
            raise Http404(_("This row has no file."))
        try:
            handle = file.open("rb")
        except FileNotFoundError as exc:
            raise Http404(_("The file is missing from storage.")) from exc
        return FileResponse(handle, as_attachment=True, filename=file.name.rsplit("/", 1)[-1])

    @admin.display(description=gettext_lazy("file"))
    def download(self, obj) -> str:
        file = getattr(obj, self.file_field)
        if not file:
            return "—"
        opts = self.model._meta
        url = reverse(f"admin:{opts.app_label}_{opts.model_name}_download", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, file.name.rsplit("/", 1)[-1])


def short_hash(sha256: str) -> str:
    """The first 12 hex digits (enough to tell files apart), the whole hash on hover."""
    return format_html('<code title="{}">{}…</code>', sha256, sha256[:12]) if sha256 else "—"


@admin.register(Checkpoint)
class CheckpointAdmin(PrivateFileDownload, admin.ModelAdmin):
    # "__str__" names the run ("Run 4 @ 40 kimg"): no separate run column, so the list fits 1280 px.
    list_display = (
        "__str__",
        "kimg_display",
        "verdict",
        "metric_display",
        "size_display",
        "published",
        "created",
    )
    list_filter = ("published", "run__genre")
    list_select_related = ("run", "run__genre")
    fields = (
        "run",
        "kimg_display",
        "step",
        "quality_report",
        "published",
        "published_by",
        "published_at",
        "confirmed_warnings",
        "download",
        "sha256",
        "size_display",
        "created",
    )
    readonly_fields = fields
    file_field = "file"

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

    @admin.display(description=gettext_lazy("quality"))
    def verdict(self, checkpoint: Checkpoint) -> str:
        return report_view(checkpoint.quality).verdict

    @admin.display(description=gettext_lazy("quality report"))
    def quality_report(self, checkpoint: Checkpoint) -> str:
        conditional = checkpoint.run.is_conditional
        pooled = render_to_string(
            "admin/training/checkpoint/report.html",
            {"report": report_view(checkpoint.quality), "pooled": conditional},
        )
        if not conditional:
            return pooled
        # A class-conditional model: every room is judged by its own class's report.
        rooms = [
            render_to_string(
                "admin/training/checkpoint/report.html",
                {"report": report_view(checkpoint.class_report(genre)), "room": genre},
            )
            for genre in checkpoint.run.rooms
        ]
        return mark_safe(pooled + "".join(rooms))  # noqa: S308 - rendered templates, escaped there

    @admin.display(description=gettext_lazy("warnings confirmed when publishing"))
    def confirmed_warnings(self, checkpoint: Checkpoint) -> str:
        if not checkpoint.publish_warnings:
            return "—"
        return format_html_join("", "<p>{}</p>", ((w,) for w in checkpoint.publish_warnings))


@admin.register(Dataset)
class DatasetAdmin(PrivateFileDownload, admin.ModelAdmin):
    list_display = ("__str__", "genre", "resolution", "image_count", "hash_display", "created")
    list_filter = ("genre",)
    file_field = "packed_file"
    readonly_fields = (
        "genre",
        "class_list",
        "resolution",
        "image_count",
        "download",
        "sha256",
        "skipped",
        "created",
    )
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest):
        return super().get_queryset(request).select_related("genre").prefetch_related("classes__genre")

    @admin.display(description=gettext_lazy("classes (label: room)"))
    def class_list(self, dataset: Dataset) -> str:
        genres = dataset.class_genres()
        if not genres:
            return _("none: one genre, unconditional")
        return ", ".join(f"{index}: {genre.display_name}" for index, genre in enumerate(genres))

    @admin.display(description=gettext_lazy("SHA-256"), ordering="sha256")
    def hash_display(self, dataset: Dataset) -> str:
        return short_hash(dataset.sha256)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Dataset | None = None) -> bool:
        return False


@admin.register(WorkerNode)
class WorkerNodeAdmin(admin.ModelAdmin):
    """Read-only: workers write these rows themselves (training.worker_presence)."""

    list_display = ("name", "queues", "device", "gpus", "gpu_name", "processes", "last_seen")
    ordering = ("name",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: WorkerNode | None = None) -> bool:
        return False
