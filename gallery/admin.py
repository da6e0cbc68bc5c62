"""Admin for rooms, artworks and mixing exhibits: publish what visitors see.

Also the gallery's side of a checkpoint: publishing it to its room, asking it
for paintings or a mixing exhibit (buttons on the training run's page, needing
``training.publish_checkpoint``), and each room's refresh schedule.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from museum.changelist import BoundedDateHierarchyMixin
from museum.queueing import broker_was_down
from training.checkpoint_quality import publish_warnings, report_view, side_by_side
from training.models import Checkpoint, GenerationSchedule

from . import services
from .forms import GenerateForm, MixingForm, PublishForm
from .models import Artwork, Genre, MixingExhibit, MixingGrid, MixingSource, PaintingRequest

PUBLISH_PERM = "training.publish_checkpoint"

PROVENANCE_FIELDS = ("checkpoint", "seed", "psi", "truncation_cutoff", "noise_mode", "class_idx")
GUARD_FIELDS = ("nearest_training_image", "nearest_training_distance", "withheld_reason")
FILE_FIELDS = (
    "image",
    "width",
    "height",
    "thumb_small_webp",
    "thumb_small_jpeg",
    "thumb_large_webp",
    "thumb_large_jpeg",
    "created",
)


def set_published(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet, published: bool
) -> None:
    if published and hasattr(modeladmin.model, "withheld_reason"):
        withheld = queryset.exclude(withheld_reason="").count()
        if withheld:
            modeladmin.message_user(
                request,
                ngettext(
                    "%(count)d selected painting copies a training image and stays withheld.",
                    "%(count)d selected paintings copy a training image and stay withheld.",
                    withheld,
                )
                % {"count": withheld},
                messages.WARNING,
            )
        queryset = queryset.filter(withheld_reason="")
    changed = queryset.exclude(published=published).update(published=published)
    verbose = modeladmin.model._meta
    name = verbose.verbose_name if changed == 1 else verbose.verbose_name_plural
    if published:
        message = ngettext("Published %(count)d %(name)s.", "Published %(count)d %(name)s.", changed)
    else:
        message = ngettext("Unpublished %(count)d %(name)s.", "Unpublished %(count)d %(name)s.", changed)
    modeladmin.message_user(request, message % {"count": changed, "name": name}, messages.SUCCESS)


class PublishActions:
    """Publish/unpublish actions, allowed to users who may change the model."""

    @admin.action(description=_("Publish the selected items"), permissions=["change"])
    def publish(self, request: HttpRequest, queryset: QuerySet) -> None:
        set_published(self, request, queryset, True)

    @admin.action(description=_("Unpublish the selected items"), permissions=["change"])
    def unpublish(self, request: HttpRequest, queryset: QuerySet) -> None:
        set_published(self, request, queryset, False)


def thumbnail(url: str, alt: str, size: int = 64) -> SafeString:
    return format_html(
        '<img src="{}" alt="{}" width="{}" height="{}" style="object-fit:cover;border:1px solid #ccc" '
        'loading="lazy">',
        url,
        alt,
        size,
        size,
    )


@admin.register(Genre)
class GenreAdmin(admin.ModelAdmin):
    list_display = ("name", "name_ja", "slug", "position", "search_terms")
    list_editable = ("position",)
    prepopulated_fields = {"slug": ("name",)}
    search_fields = ("name", "name_ja", "slug")


@admin.register(Artwork)
class ArtworkAdmin(BoundedDateHierarchyMixin, PublishActions, admin.ModelAdmin):
    list_display = ("thumbnail", "display_title", "genre", "published", "provenance", "created")
    list_display_links = ("thumbnail", "display_title")
    list_filter = ("genre", "published")
    list_select_related = ("genre", "checkpoint")
    search_fields = ("title", "seed")
    date_hierarchy = "created"
    actions = ("publish", "unpublish")
    list_per_page = 50
    fieldsets = (
        (None, {"fields": ("preview", "title", "genre", "published")}),
        (_("Provenance"), {"fields": PROVENANCE_FIELDS}),
        (_("Room guards"), {"fields": GUARD_FIELDS}),
        (
            _("Files"),
            {
                "classes": ("collapse",),
                "fields": FILE_FIELDS,
            },
        ),
    )

    # A painting's provenance and files are facts of how it was made, not editable.
    readonly_fields = ("preview", *PROVENANCE_FIELDS, *GUARD_FIELDS, *FILE_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Artworks come from the generation task (or seed_gallery), never hand uploads.
        return False

    def get_readonly_fields(self, request: HttpRequest, obj: Artwork | None = None):
        # A copy of a training image never hangs, whoever asks.
        fields = super().get_readonly_fields(request, obj)
        return (*fields, "published") if obj is not None and obj.withheld_reason else fields

    @admin.display(description=_("picture"))
    def thumbnail(self, obj: Artwork) -> SafeString | str:
        file = obj.thumb_small_jpeg or obj.image
        return thumbnail(file.url, obj.display_title) if file else "—"

    @admin.display(description=_("preview"))
    def preview(self, obj: Artwork) -> SafeString | str:
        file = obj.thumb_large_jpeg or obj.image
        return thumbnail(file.url, obj.display_title, 320) if file else "—"

    @admin.display(description=_("title"), ordering="title")
    def display_title(self, obj: Artwork) -> str:
        return obj.display_title

    @admin.display(description=_("provenance"))
    def provenance(self, obj: Artwork) -> str:
        where = str(obj.checkpoint) if obj.checkpoint else _("no checkpoint")
        psi = f"ψ {obj.psi:g}"
        if obj.truncation_cutoff is not None:
            psi += " " + gettext("(first %(cutoff)s layers)") % {"cutoff": obj.truncation_cutoff}
        return f"{where} · seed {obj.seed} · {psi} · {obj.get_noise_mode_display()}"


class ExhibitPartInline(admin.TabularInline):
    """Read-only parts of an exhibit, visible to whoever may see the exhibit."""

    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: MixingExhibit | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: MixingExhibit | None = None) -> bool:
        return False

    def has_view_permission(self, request: HttpRequest, obj: MixingExhibit | None = None) -> bool:
        return request.user.has_perm("gallery.view_mixingexhibit") or request.user.has_perm(
            "gallery.change_mixingexhibit"
        )


class MixingSourceInline(ExhibitPartInline):
    model = MixingSource
    fields = ("axis", "position", "seed", "picture", "artwork")
    readonly_fields = fields

    @admin.display(description=_("picture"))
    def picture(self, obj: MixingSource) -> SafeString:
        return thumbnail(obj.image.url, str(obj))


class MixingGridInline(ExhibitPartInline):
    model = MixingGrid
    fields = ("band", "layer_start", "layer_stop", "grid_preview")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        return super().get_queryset(request).prefetch_related("cells")

    @admin.display(description=_("grid"))
    def grid_preview(self, obj: MixingGrid) -> SafeString:
        if obj.figure:
            return thumbnail(obj.figure.url, str(obj), 240)
        rows: dict[int, list] = {}
        for cell in obj.cells.all():
            rows.setdefault(cell.row, []).append(cell)
        return format_html_join(
            "",
            '<div style="display:flex;gap:2px;margin-bottom:2px">{}</div>',
            (
                (format_html_join("", "{}", ((thumbnail(c.image.url, "", 40),) for c in row)),)
                for row in rows.values()
            ),
        )


@admin.register(MixingExhibit)
class MixingExhibitAdmin(PublishActions, admin.ModelAdmin):
    list_display = ("display_title", "genre", "published", "checkpoint", "seeds", "created")
    list_filter = ("genre", "published")
    list_select_related = ("genre", "checkpoint")
    actions = ("publish", "unpublish")
    fields = (
        "title",
        "genre",
        "published",
        "checkpoint",
        "row_seeds",
        "col_seeds",
        "psi",
        "truncation_cutoff",
        "noise_mode",
        "created",
    )
    readonly_fields = (
        "checkpoint",
        "row_seeds",
        "col_seeds",
        "psi",
        "truncation_cutoff",
        "noise_mode",
        "created",
    )
    inlines = (MixingSourceInline, MixingGridInline)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Exhibits come from the build_mixing_exhibit task (or seed_gallery).
        return False

    @admin.display(description=_("title"), ordering="title")
    def display_title(self, obj: MixingExhibit) -> str:
        return obj.display_title

    @admin.display(description=_("sources"))
    def seeds(self, obj: MixingExhibit) -> str:
        return f"{len(obj.row_seeds)} A × {len(obj.col_seeds)} B"


def saved_not_sent(request: PaintingRequest) -> str:
    return gettext(
        "%(request)s: saved as queued, but the task broker is unreachable right now; it will be sent "
        "to a GPU worker as soon as the broker is back (checked every minute)."
    ) % {"request": request}


@admin.register(PaintingRequest)
class PaintingRequestAdmin(admin.ModelAdmin):
    """What was asked of the GPU workers, and how it went (read only: the
    checkpoint buttons make requests)."""

    list_display = ("__str__", "status", "requested_by", "created", "finished")
    list_filter = ("status", "kind", "genre")
    list_select_related = ("checkpoint", "requested_by", "genre")
    readonly_fields = [f.name for f in PaintingRequest._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PaintingRequest | None = None) -> bool:
        return False


@admin.register(GenerationSchedule)
class GenerationScheduleAdmin(admin.ModelAdmin):
    """Each room's refresh schedule; also serves the checkpoint buttons (publish,
    paint, mix) that the training run's page shows."""

    list_display = ("genre", "enabled", "every_hours", "count", "psi", "truncation_cutoff", "last_queued")
    list_editable = ("enabled", "every_hours", "count", "psi", "truncation_cutoff")
    readonly_fields = ("last_queued",)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        # The names are the ones the run page's forms have always posted to.
        return [
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

    def _checkpoint(self, request: HttpRequest, checkpoint_id: int) -> Checkpoint:
        if not request.user.has_perm(PUBLISH_PERM):
            raise PermissionDenied
        return get_object_or_404(Checkpoint.objects.select_related("run__genre"), pk=checkpoint_id)

    def _back(self, checkpoint: Checkpoint) -> HttpResponseRedirect:
        return redirect(reverse("admin:training_trainingrun_change", args=[checkpoint.run_id]))

    def _form_errors(self, request: HttpRequest, form) -> None:
        for field, errors in form.errors.items():
            messages.error(request, f"{form.fields[field].label}: {' '.join(errors)}")

    def _tell_queued(self, request: HttpRequest, queued: PaintingRequest, success: str) -> None:
        if broker_was_down(queued):
            messages.warning(request, saved_not_sent(queued))
        else:
            messages.success(request, success)

    def _room_reviews(self, checkpoint: Checkpoint) -> list[dict]:
        """For each room the checkpoint would paint: the room's checkpoint now,
        the warnings, and both reports side by side (a class-conditional model
        is judged by each class's report, against each room's checkpoint)."""
        reviews = []
        several = len(checkpoint.run.rooms) > 1
        for genre in checkpoint.run.rooms:
            published = services.published_checkpoint(genre)
            if published is not None and published.pk == checkpoint.pk:
                published = None
            mine = checkpoint.class_report(genre)
            theirs = published.class_report(genre) if published is not None else None
            warnings = publish_warnings(checkpoint, published, report=mine, other=theirs)
            if several:
                warnings = [f"{genre.display_name}: {w}" for w in warnings]
            reviews.append(
                {
                    "genre": genre,
                    "published": published,
                    "warnings": warnings,
                    "candidate_report": report_view(mine),
                    "published_report": report_view(theirs) if published else None,
                    "rows": side_by_side(mine, theirs),
                }
            )
        return reviews

    def publish_view(self, request: HttpRequest, checkpoint_id: int) -> HttpResponse:
        checkpoint = self._checkpoint(request, checkpoint_id)
        form = PublishForm(request.POST)
        first_batch = form.cleaned_data["count"] if form.is_valid() and request.POST.get("first_batch") else 0
        reviews = self._room_reviews(checkpoint)
        warnings = [w for review in reviews for w in review["warnings"]]
        rooms = ", ".join(g.display_name for g in checkpoint.run.rooms)
        if warnings and request.POST.get("confirm") != "1":
            # A failing report, or one worse than the room's: show both and ask.
            context = {
                **self.admin_site.each_context(request),
                "title": gettext("Publish %(checkpoint)s?") % {"checkpoint": checkpoint},
                "opts": Checkpoint._meta,
                "checkpoint": checkpoint,
                "rooms": rooms,
                "reviews": reviews,
                "warnings": warnings,
                "first_batch": first_batch,
                "count": form.cleaned_data["count"] if form.is_valid() else 16,
            }
            return TemplateResponse(request, "admin/training/checkpoint/publish_confirm.html", context)
        services.publish_checkpoint(checkpoint, user=request.user, confirmed_warnings=warnings)
        queued = (
            services.queue_first_batches(checkpoint, first_batch, user=request.user) if first_batch else []
        )
        messages.success(
            request,
            ngettext(
                "%(checkpoint)s now paints the %(genre)s room.",
                "%(checkpoint)s now paints the %(genre)s rooms.",
                len(checkpoint.run.rooms),
            )
            % {"checkpoint": checkpoint, "genre": rooms},
        )
        if queued and broker_was_down(queued[0]):
            messages.warning(request, saved_not_sent(queued[0]))
        return self._back(checkpoint)

    def _ask_for_rooms(
        self, request: HttpRequest, checkpoint_id: int, form_class, queue, said
    ) -> HttpResponse:
        """Queue one request per room the form names (every room of a
        class-conditional model when it names none) and say so."""
        checkpoint = self._checkpoint(request, checkpoint_id)
        form = form_class(request.POST, checkpoint=checkpoint)
        if not form.is_valid():
            self._form_errors(request, form)
            return self._back(checkpoint)
        data = form.cleaned_data
        queued = [queue(checkpoint, data, request.user, genre) for genre in form.rooms(checkpoint)]
        self._tell_queued(request, queued[0], said(checkpoint, data, len(queued)))
        return self._back(checkpoint)

    def generate_view(self, request: HttpRequest, checkpoint_id: int) -> HttpResponse:
        return self._ask_for_rooms(
            request,
            checkpoint_id,
            GenerateForm,
            lambda checkpoint, data, user, genre: services.queue_generation(
                checkpoint,
                data["count"],
                data["psi"],
                user=user,
                genre=genre,
                truncation_cutoff=data["cutoff"],
            ),
            lambda checkpoint, data, rooms: (
                gettext("%(count)d paintings from %(checkpoint)s are queued for a GPU worker.")
                % {"count": data["count"] * rooms, "checkpoint": checkpoint}
            ),
        )

    def mix_view(self, request: HttpRequest, checkpoint_id: int) -> HttpResponse:
        return self._ask_for_rooms(
            request,
            checkpoint_id,
            MixingForm,
            lambda checkpoint, data, user, genre: services.queue_mixing_exhibit(
                checkpoint, data["rows"], data["columns"], user=user, genre=genre
            ),
            lambda checkpoint, data, rooms: (
                ngettext(
                    "A style-mixing exhibit from %(checkpoint)s is queued.",
                    "%(count)d style-mixing exhibits from %(checkpoint)s are queued, one per room.",
                    rooms,
                )
                % {"checkpoint": checkpoint, "count": rooms}
            ),
        )
