"""Who may fetch which media file: every ``/media/`` request goes through here.

A file is public while the row that shows it is public (a published artwork
or exhibit, an approved scraped image); otherwise only users who may view
that row in the admin get it, everyone else a 404 (its existence is not
revealed). The check runs on every request, so unpublishing revokes a URL
already handed out, and a public file's URL (``/media/<name>``) never changes
on publish/unpublish, so pages that show it can be cached.

Public answers carry ``Cache-Control: public, max-age=MEDIA_PUBLIC_MAX_AGE``;
private ones ``private, no-store``. A path no rule owns is a 404 for
everyone: a new kind of media file must add a rule to ``RULES``.

The file is streamed from the default storage: local disk, or on S3 a
private bucket read with the site's credentials
(``museum.mediastorage.ViewServedS3Storage``). A signed-URL redirect was
not chosen because the bucket's endpoint (``http://minio:9000`` in compose)
is usually not reachable by visitors, and a signature is bound to its host.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from django.db.models import Q
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.utils.cache import patch_cache_control
from django.utils.http import http_date
from django.views.decorators.http import require_safe

from gallery.models import Artwork, MixingCell, MixingGrid, MixingSource
from scraper.models import ScrapedImage


@dataclass(frozen=True)
class Owner:
    """What a media file belongs to: whether that is public, and the
    permission that lets a signed-in user see it when it is not."""

    public: bool
    permission: str


def _artwork(name: str) -> Owner | None:
    fields = ("image", "thumb_small_webp", "thumb_small_jpeg", "thumb_large_webp", "thumb_large_jpeg")
    match = Q()
    for field in fields:
        match |= Q(**{field: name})
    states = list(Artwork.objects.filter(match).values_list("published", flat=True)[:10])
    if not states:
        return None
    return Owner(public=any(states), permission="gallery.view_artwork")


def _exhibit(name: str) -> Owner | None:
    states = [
        *MixingSource.objects.filter(image=name).values_list("exhibit__published", flat=True)[:10],
        *MixingCell.objects.filter(image=name).values_list("grid__exhibit__published", flat=True)[:10],
        *MixingGrid.objects.filter(figure=name).values_list("exhibit__published", flat=True)[:10],
    ]
    if not states:
        return None
    return Owner(public=any(states), permission="gallery.view_mixingexhibit")


def _scraped(name: str) -> Owner | None:
    statuses = list(
        ScrapedImage.objects.filter(Q(image=name) | Q(thumbnail=name)).values_list("status", flat=True)[:10]
    )
    if not statuses:
        return None
    # Approved images are the training paintings the public artwork page may show.
    return Owner(public=ScrapedImage.Status.APPROVED in statuses, permission="scraper.view_scrapedimage")


# The first path segment names the rule; anything else is nobody's file.
RULES: dict[str, Callable[[str], Owner | None]] = {
    "artworks": _artwork,
    "exhibits": _exhibit,
    "scraped": _scraped,
}


def owner_of(name: str) -> Owner | None:
    rule = RULES.get(name.split("/", 1)[0])
    return rule(name) if rule else None


def may_fetch(request: HttpRequest, owner: Owner | None) -> bool:
    if owner is None:
        return False
    if owner.public:
        return True
    user = request.user
    return user.is_active and user.is_staff and user.has_perm(owner.permission)


@require_safe
def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    name = path.lstrip("/")
    if not name or ".." in name.split("/") or "\\" in name:
        raise Http404("No such file.")
    owner = owner_of(name)
    if not may_fetch(request, owner):
        raise Http404("No such file.")
    response = _file_response(name)
    if owner.public:
        patch_cache_control(response, public=True, max_age=settings.MEDIA_PUBLIC_MAX_AGE)
    else:
        patch_cache_control(response, private=True, no_store=True)
    return response


def _file_response(name: str) -> HttpResponse:
    try:
        handle = default_storage.open(name, "rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("The file is missing from storage.") from exc
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    response = FileResponse(handle, content_type=content_type)
    try:
        response["Last-Modified"] = http_date(default_storage.get_modified_time(name).timestamp())
    except (NotImplementedError, OSError):
        pass  # the header is an optimisation; the file itself is served
    return response
