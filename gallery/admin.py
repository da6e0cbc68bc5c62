"""Admin for rooms, artworks and mixing exhibits: publish what visitors see."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from museum.changelist import BoundedDateHierarchyMixin

from .models import Artwork, Genre, MixingExhibit, MixingGrid, MixingSource

PROVENANCE_FIELDS = ("checkpoint", "seed", "psi", "truncation_cutoff", "noise_mode", "class_idx")
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
        (
            _("Files"),
            {
                "classes": ("collapse",),
                "fields": FILE_FIELDS,
            },
        ),
    )

    # A painting's provenance and files are facts of how it was made, not editable.
    readonly_fields = ("preview", *PROVENANCE_FIELDS, *FILE_FIELDS)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # Artworks come from the generation task (or seed_gallery), never hand uploads.
        return False

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
        return f"{where} · seed {obj.seed} · ψ {obj.psi:g} · {obj.get_noise_mode_display()}"


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
        "noise_mode",
        "created",
    )
    readonly_fields = ("checkpoint", "row_seeds", "col_seeds", "psi", "noise_mode", "created")
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
