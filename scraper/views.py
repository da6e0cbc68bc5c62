"""The focused review page: one pending image at a time, for getting through thousands."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext as _

from gallery.models import Genre
from scraper.curation import (
    HINT_LABELS,
    REJECTION_REASONS,
    approve_images,
    next_pending,
    pending_images,
    reject_images,
)
from scraper.forms import ReviewDecisionForm
from scraper.models import ScrapedImage


def review(request: HttpRequest) -> HttpResponse:
    """GET shows the next pending image; POST records a decision and moves on.

    Wrapped by ``admin.site.admin_view`` in urls.py (login, staff, CSRF,
    no caching); the review permission is checked here.
    """
    if not request.user.has_perm("scraper.review_images"):
        raise PermissionDenied(_("You need the permission to review scraped images."))
    genre_slug = (request.POST.get("genre") if request.method == "POST" else request.GET.get("genre")) or ""
    if genre_slug and not Genre.objects.filter(slug=genre_slug).exists():
        messages.error(request, _("There is no genre “%(slug)s”; showing all genres.") % {"slug": genre_slug})
        genre_slug = ""

    if request.method == "POST":
        return _decide(request, genre_slug)

    after = request.GET.get("after", "")
    image = next_pending(genre_slug or None, int(after) if after.isdigit() else None)
    genres = Genre.objects.annotate(
        pending=Count("scraped_images", filter=Q(scraped_images__status=ScrapedImage.Status.PENDING))
    )
    context = {
        **admin.site.each_context(request),
        "title": _("Review scraped images"),
        "image": image,
        "hints": [HINT_LABELS.get(hint, hint) for hint in image.quality_hints] if image else [],
        "near_duplicates": list(image.near_duplicates.all()[:3]) if image else [],
        "pending_count": pending_images(genre_slug or None).count(),
        "genres": genres,
        "genre_slug": genre_slug,
        "reasons": REJECTION_REASONS,
        "opts": ScrapedImage._meta,
    }
    return TemplateResponse(request, "admin/scraper/review.html", context)


def _decide(request: HttpRequest, genre_slug: str) -> HttpResponse:
    form = ReviewDecisionForm(request.POST)
    if not form.is_valid():
        errors = "; ".join(f"{field}: {' '.join(errs)}" for field, errs in form.errors.items())
        messages.error(request, _("The decision was not recorded: %(errors)s") % {"errors": errors})
        return HttpResponseRedirect(_review_url(genre_slug, request.POST.get("image_id", "")))
    image = get_object_or_404(ScrapedImage, pk=form.cleaned_data["image_id"])
    decision = form.cleaned_data["decision"]
    if decision == "approve":
        approve_images([image.pk], request.user)
        messages.success(request, _("Approved “%(title)s”.") % {"title": image})
    elif decision == "reject":
        reject_images([image.pk], request.user, form.cleaned_data["reason"], form.cleaned_data["note"])
        messages.success(request, _("Rejected “%(title)s”.") % {"title": image})
    # A skip records nothing: the image stays pending and comes round again.
    return HttpResponseRedirect(_review_url(genre_slug, str(image.pk)))


def _review_url(genre_slug: str, after: str) -> str:
    query = {key: value for key, value in (("genre", genre_slug), ("after", after)) if value}
    return reverse("scraper:review") + (f"?{urlencode(query)}" if query else "")
