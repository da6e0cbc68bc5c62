"""Admin for crawls (staff) and the curation queue (curators).

Every view and action checks a permission: ``scraper.start_crawl`` to start,
see and cancel crawls; ``scraper.review_images`` to approve or reject.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from museum.queueing import broker_was_down
from scraper.curation import HINT_LABELS, QUALITY_HINTS, approve_images, reject_images
from scraper.forms import RejectForm
from scraper.imagecheck import THUMBNAIL_SIZE
from scraper.models import CrawlJob, ScrapedImage
from scraper.outcomes import outcome_label
from scraper.services import cancel_crawl, start_crawl


def can_start_crawls(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.has_perm("scraper.start_crawl")


def can_review(request: HttpRequest) -> bool:
    return request.user.is_active and request.user.has_perm("scraper.review_images")


def image_tag(image: ScrapedImage, width: int) -> str:
    if not image.image:
        return "—"
    # The small copy is enough up to its own size; larger views get the image.
    url = image.thumbnail_url if width <= THUMBNAIL_SIZE else image.image.url
    return format_html(
        '<img src="{}" width="{}" alt="{}" loading="lazy" class="scraper-thumb">',
        url,
        width,
        image.title,
    )


@admin.register(CrawlJob)
class CrawlJobAdmin(admin.ModelAdmin):
    list_display = ["__str__", "status", "progress", "outcome_summary", "started_by", "created", "finished"]
    list_filter = ["status", "source", "genre"]
    list_select_related = ["genre", "started_by"]
    actions = ["cancel_selected"]
    add_fields = ["genre", "source", "query", "item_limit"]
    detail_fields = [
        "source",
        "genre",
        "effective_query",
        "item_limit",
        "status",
        "progress",
        "counts_table",
        "started_by",
        "created",
        "started",
        "finished",
        "worker",
        "heartbeat",
        "error",
        "log",
    ]

    # Permissions: crawls are for staff with start_crawl; jobs are never edited.
    def has_view_permission(self, request: HttpRequest, obj: CrawlJob | None = None) -> bool:
        return can_start_crawls(request) or super().has_view_permission(request, obj)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return can_start_crawls(request)

    def has_change_permission(self, request: HttpRequest, obj: CrawlJob | None = None) -> bool:
        return False

    def has_start_crawl_permission(self, request: HttpRequest) -> bool:
        return can_start_crawls(request)

    def get_fields(self, request: HttpRequest, obj: CrawlJob | None = None) -> list[str]:
        return self.add_fields if obj is None else self.detail_fields

    def get_readonly_fields(self, request: HttpRequest, obj: CrawlJob | None = None) -> list[str]:
        return [] if obj is None else self.detail_fields

    def save_model(self, request: HttpRequest, obj: CrawlJob, form, change: bool) -> None:
        if change:
            return
        # Through the same service as every other caller: it checks the
        # permission, saves the job queued and sends it after commit.
        job = start_crawl(obj.genre, obj.source, request.user, query=obj.query, item_limit=obj.item_limit)
        obj.pk = job.pk
        obj.refresh_from_db()
        request.started_crawl = job  # told to staff once the admin's transaction commits

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context=None) -> HttpResponse:
        # The admin saves inside a transaction and the job is sent after its
        # commit: only then is it known whether the broker took it.
        response = super().add_view(request, form_url, extra_context)
        job = getattr(request, "started_crawl", None)
        if job is not None:
            self.tell_queued(request, job)
        return response

    def tell_queued(self, request: HttpRequest, job: CrawlJob) -> None:
        if broker_was_down(job):
            self.message_user(
                request,
                _(
                    "%(job)s is saved as queued, but the task broker is unreachable right now: it will be "
                    "sent to a crawl worker as soon as the broker is back (checked every minute)."
                )
                % {"job": job},
                messages.WARNING,
            )
        else:
            self.message_user(
                request,
                _("Crawl %(pk)s (%(source)s, %(genre)s) is queued. This page refreshes while it runs.")
                % {"pk": job.pk, "source": job.get_source_display(), "genre": job.genre.display_name},
            )

    def response_add(
        self, request: HttpRequest, obj: CrawlJob, post_url_continue: str | None = None
    ) -> HttpResponse:
        return HttpResponseRedirect(reverse("admin:scraper_crawljob_change", args=[obj.pk]))

    @admin.display(description=_("progress"))
    def progress(self, job: CrawlJob) -> str:
        percent = job.progress_percent
        if percent is None:
            return _("%(n)d items") % {"n": job.processed}
        return format_html(
            '<progress max="100" value="{}"></progress> {} / {}', percent, job.processed, job.item_limit
        )

    @admin.display(description=_("outcomes"))
    def outcome_summary(self, job: CrawlJob) -> str:
        main = sorted((k, v) for k, v in job.counts.items() if ":" not in k)
        return ", ".join(f"{outcome_label(key)} {n}" for key, n in main) or "—"

    @admin.display(description=_("query"))
    def effective_query(self, job: CrawlJob) -> str:
        return job.effective_query

    @admin.display(description=_("counts per outcome"))
    def counts_table(self, job: CrawlJob) -> str:
        if not job.counts:
            return "—"
        # Each outcome, then its reasons beneath it.
        rows = format_html_join(
            "",
            "<tr><th>{}</th><td>{}</td></tr>",
            ((outcome_label(key), n) for key, n in sorted(job.counts.items())),
        )
        return format_html('<table class="scraper-counts">{}</table>', rows)

    @admin.display(description=_("log (last lines)"))
    def log(self, job: CrawlJob) -> str:
        return format_html('<pre class="scraper-log">{}</pre>', job.log_tail or "—")

    @admin.action(description=_("Cancel selected crawls"), permissions=["start_crawl"])
    def cancel_selected(self, request: HttpRequest, queryset: QuerySet[CrawlJob]) -> None:
        active = [job for job in queryset if job.is_active]
        for job in active:
            cancel_crawl(job, request.user)
        self.message_user(
            request,
            ngettext("Asked %(n)d crawl to stop.", "Asked %(n)d crawls to stop.", len(active))
            % {"n": len(active)},
        )

    def get_urls(self):
        custom = [
            path(
                "<int:job_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="scraper_crawljob_cancel",
            )
        ]
        return custom + super().get_urls()

    def cancel_view(self, request: HttpRequest, job_id: int) -> HttpResponse:
        if not can_start_crawls(request):
            raise PermissionDenied
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        job = cancel_crawl(get_object_or_404(CrawlJob, pk=job_id), request.user)
        self.message_user(
            request,
            _("Crawl %(pk)s (%(source)s, %(genre)s) is %(status)s.")
            % {
                "pk": job.pk,
                "source": job.get_source_display(),
                "genre": job.genre.display_name,
                "status": job.get_status_display(),
            },
        )
        return HttpResponseRedirect(reverse("admin:scraper_crawljob_change", args=[job.pk]))

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        extra_context = {**(extra_context or {}), "can_cancel": can_start_crawls(request)}
        return super().changeform_view(request, object_id, form_url, extra_context)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "any_active": CrawlJob.objects.filter(status__in=CrawlJob.ACTIVE_STATUSES).exists(),
        }
        return super().changelist_view(request, extra_context)


class NearDuplicateFilter(admin.SimpleListFilter):
    title = _("near duplicate")
    parameter_name = "near_duplicate"

    def lookups(self, request, model_admin):
        return [("yes", _("resembles another image")), ("no", _("no near duplicate"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(near_duplicate_of__isnull=False)
        if self.value() == "no":
            return queryset.filter(near_duplicate_of__isnull=True)
        return queryset


class QualityHintFilter(admin.SimpleListFilter):
    title = _("quality hint")
    parameter_name = "hint"

    def lookups(self, request, model_admin):
        return [*QUALITY_HINTS, ("none", _("no hints"))]

    def queryset(self, request, queryset):
        value = self.value()
        if value == "none":
            return queryset.filter(quality_hints=[])
        if value in HINT_LABELS:
            # Text match on the JSON list: works on SQLite and PostgreSQL alike.
            return queryset.filter(quality_hints__icontains=f'"{value}"')
        return queryset


@admin.register(ScrapedImage)
class ScrapedImageAdmin(admin.ModelAdmin):
    list_display = ["picture", "summary", "provenance", "genre", "status", "hints", "resembles"]
    list_display_links = ["picture", "summary"]
    list_filter = ["status", "genre", "source", NearDuplicateFilter, QualityHintFilter, "is_demo"]
    list_select_related = ["genre", "near_duplicate_of"]
    search_fields = ["title", "artist", "source_id"]
    list_per_page = 48
    actions = ["approve_selected", "reject_selected"]
    readonly_fields = [
        "preview",
        "title",
        "artist",
        "date_text",
        "provenance",
        "genre",
        "size",
        "hints",
        "content_hash",
        "phash",
        "job",
        "reviewed_by",
        "reviewed_at",
        "created",
    ]
    fields = ["preview", "status", "rejection_reason", *readonly_fields[1:]]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # images come from crawls

    def has_change_permission(self, request: HttpRequest, obj: ScrapedImage | None = None) -> bool:
        return can_review(request) and super().has_change_permission(request, obj)

    def has_review_permission(self, request: HttpRequest) -> bool:
        return can_review(request)

    def save_model(self, request: HttpRequest, obj: ScrapedImage, form, change: bool) -> None:
        if "status" in form.changed_data or "rejection_reason" in form.changed_data:
            obj.reviewed_by = request.user
            obj.reviewed_at = timezone.now()
            if obj.status != ScrapedImage.Status.REJECTED:
                obj.rejection_reason = ""
        super().save_model(request, obj, form, change)

    @admin.display(description=_("image"))
    def picture(self, image: ScrapedImage) -> str:
        return image_tag(image, 160)

    @admin.display(description=_("painting"), ordering="title")
    def summary(self, image: ScrapedImage) -> str:
        return format_html(
            "<strong>{}</strong><br>{}<br><small>{} · {}×{}</small>",
            image.title or "—",
            image.artist or _("unknown artist"),
            image.date_text or _("undated"),
            image.width,
            image.height,
        )

    @admin.display(description=_("source and licence"), ordering="source")
    def provenance(self, image: ScrapedImage) -> str:
        link = (
            format_html(
                '<a href="{}" target="_blank" rel="noopener noreferrer">{}</a>',
                image.page_link,
                image.source_id,
            )
            if image.page_link
            else image.source_id
        )
        return format_html(
            "{} {}<br><span class='scraper-licence'>{}</span>",
            image.get_source_display(),
            link,
            image.licence or _("licence unknown"),
        )

    @admin.display(description=_("quality hints"))
    def hints(self, image: ScrapedImage) -> str:
        return ", ".join(str(HINT_LABELS.get(hint, hint)) for hint in image.quality_hints) or "—"

    @admin.display(description=_("size"))
    def size(self, image: ScrapedImage) -> str:
        return f"{image.width}×{image.height}"

    @admin.display(description=_("near duplicate of"))
    def resembles(self, image: ScrapedImage) -> str:
        original = image.near_duplicate_of
        if original is None:
            return "—"
        return format_html(
            '<a href="{}">{}<br>#{} ({})</a>',
            reverse("admin:scraper_scrapedimage_change", args=[original.pk]),
            image_tag(original, 80),
            original.pk,
            _("distance %(d)s") % {"d": image.near_duplicate_distance},
        )

    @admin.display(description=_("image and its near duplicates"))
    def preview(self, image: ScrapedImage) -> str:
        figures = [(image, _("this image"))]
        if image.near_duplicate_of is not None:
            figures.append(
                (image.near_duplicate_of, _("resembles #%(pk)s") % {"pk": image.near_duplicate_of.pk})
            )
        for other in image.near_duplicates.all()[:6]:
            figures.append((other, _("#%(pk)s resembles this") % {"pk": other.pk}))
        return format_html(
            '<div class="scraper-compare">{}</div>',
            format_html_join(
                "",
                '<figure><a href="{}">{}</a><figcaption>{} · {}</figcaption></figure>',
                (
                    (
                        reverse("admin:scraper_scrapedimage_change", args=[figure.pk]),
                        image_tag(figure, 420),
                        caption,
                        figure.get_status_display(),
                    )
                    for figure, caption in figures
                ),
            ),
        )

    @admin.action(description=_("Approve selected images"), permissions=["review"])
    def approve_selected(self, request: HttpRequest, queryset: QuerySet[ScrapedImage]) -> None:
        count = approve_images(queryset, request.user)
        self.message_user(
            request,
            ngettext("Approved %(n)d image.", "Approved %(n)d images.", count) % {"n": count},
            messages.SUCCESS,
        )

    @admin.action(description=_("Reject selected images with a reason…"), permissions=["review"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[ScrapedImage]) -> HttpResponse | None:
        form = RejectForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            count = reject_images(
                queryset, request.user, form.cleaned_data["reason"], form.cleaned_data["note"]
            )
            self.message_user(
                request,
                ngettext("Rejected %(n)d image.", "Rejected %(n)d images.", count) % {"n": count},
                messages.SUCCESS,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": _("Reject images"),
            "opts": self.model._meta,
            "queryset": queryset,
            "form": form,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/scraper/scrapedimage/reject.html", context)

    def get_queryset(self, request: HttpRequest) -> QuerySet[ScrapedImage]:
        return (
            super().get_queryset(request).select_related("genre", "near_duplicate_of", "job", "reviewed_by")
        )

    class Media:
        css = {"all": ["scraper/curation.css"]}
