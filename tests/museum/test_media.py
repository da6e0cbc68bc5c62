"""Media files over real HTTP (a live server, DEBUG on and off): files of
unpublished or unreviewed rows reach only staff allowed to see the row;
published ones stay public and cacheable; unpublishing revokes a URL."""

from __future__ import annotations

import os
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
from django.core.wsgi import get_wsgi_application
from django.test import Client
from django.urls import reverse

from gallery.models import Artwork, Genre, MixingExhibit
from scraper.curation import approve_images, reject_images
from scraper.ingest import ingest_image
from scraper.models import ScrapedImage
from tests.gallery.factories import make_artwork, make_exhibit
from tests.scraper.factories import make_item, make_job, make_user, painting_bytes
from training.models import Checkpoint, Dataset, TrainingRun

# Loopback ports this test's server may take (AAG_TEST_PORTS=first-last to move them).
_first, _last = os.environ.get("AAG_TEST_PORTS", "8400-8499").split("-")
SITE_PORTS = range(int(_first), int(_last) + 1)


def start_site(port_range: range) -> tuple[ThreadedWSGIServer, str]:
    """The project's WSGI application (as gunicorn runs it: whitenoise, every
    middleware, museum.urls) on a real HTTP server. Django's live_server is
    not used: it answers MEDIA_URL itself, from MEDIA_ROOT, before the app."""
    application = get_wsgi_application()
    for port in port_range:
        try:
            server = ThreadedWSGIServer(("127.0.0.1", port), WSGIRequestHandler, allow_reuse_address=False)
        except OSError:
            continue
        server.set_app(application)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server, f"http://127.0.0.1:{port}"
    raise RuntimeError(f"no free port in {port_range}")


@pytest.fixture(params=[True, False], ids=["debug", "production"])
def site(request, transactional_db, settings, tmp_path: Path) -> Iterator[str]:
    settings.DEBUG = request.param
    settings.MEDIA_ROOT = tmp_path / "media"
    server, url = start_site(SITE_PORTS)
    yield url
    server.shutdown()
    server.server_close()


@pytest.fixture
def people(transactional_db) -> dict[str, str | None]:
    """Session cookies of an anonymous visitor, a curator and a staff member."""

    def session(user: User) -> str:
        client = Client()
        client.force_login(user)
        return client.cookies["sessionid"].value

    return {
        "anonymous": None,
        "curator": session(make_user("carla", "Curators")),
        "staff": session(make_user("sam", "Staff")),
    }


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer to look at, not to follow


_opener = urllib.request.build_opener(_NoRedirects)


def fetch(url: str, session: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Cookie": f"sessionid={session}"} if session else {})
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def statuses(site: str, url: str, people: dict[str, str | None]) -> dict[str, int]:
    return {who: fetch(site + url, session)[0] for who, session in people.items()}


def artwork_urls(artwork: Artwork) -> list[str]:
    fields = ("image", "thumb_small_webp", "thumb_small_jpeg", "thumb_large_webp", "thumb_large_jpeg")
    return [getattr(artwork, field).url for field in fields]


def test_unpublished_artworks_reach_staff_only_and_published_ones_everyone(site, people):
    hidden = make_artwork(seed=1, published=False)
    shown = make_artwork(seed=2, published=True)

    for url in artwork_urls(hidden):
        assert url.startswith("/media/artworks/")
        assert statuses(site, url, people) == {"anonymous": 404, "curator": 404, "staff": 200}, url
    _, headers, body = fetch(site + hidden.image.url, people["staff"])
    assert body == hidden.image.open("rb").read()
    assert "no-store" in headers["Cache-Control"] and "private" in headers["Cache-Control"]

    for url in artwork_urls(shown):
        assert statuses(site, url, people) == {"anonymous": 200, "curator": 200, "staff": 200}, url
    _, headers, body = fetch(site + shown.thumb_small_webp.url)
    assert headers["Content-Type"] == "image/webp" and body[:4] == b"RIFF"
    assert "public" in headers["Cache-Control"] and "max-age=3600" in headers["Cache-Control"]


def test_unpublishing_in_the_admin_revokes_a_url_already_handed_out(site, people):
    artwork = make_artwork(seed=3, published=True)
    url = site + artwork.image.url
    assert fetch(url)[0] == 200

    admin = Client()
    admin.force_login(User.objects.create_superuser("root", "root@example.org", "pw"))
    response = admin.post(
        reverse("admin:gallery_artwork_changelist"),
        {"action": "unpublish", "_selected_action": [artwork.pk]},
    )
    assert response.status_code == 302
    assert fetch(url)[0] == 404
    assert fetch(url, people["staff"])[0] == 200


def test_exhibit_files_follow_the_exhibit(site, people):
    exhibit = make_exhibit(rows=1, cols=1, published=False)
    urls = [
        *(source.image.url for source in exhibit.sources.all()),
        *(cell.image.url for grid in exhibit.grids.all() for cell in grid.cells.all()),
    ]
    assert urls
    for url in urls:
        assert statuses(site, url, people) == {"anonymous": 404, "curator": 404, "staff": 200}, url
    MixingExhibit.objects.filter(pk=exhibit.pk).update(published=True)
    for url in urls:
        assert fetch(site + url)[0] == 200, url


def test_scraped_images_are_public_only_once_approved(site, people):
    job = make_job()
    ids = [ingest_image(job.pk, make_item(str(n)), painting_bytes(n)).image_id for n in range(3)]
    pending, approved, rejected = ScrapedImage.objects.filter(pk__in=ids).order_by("id")
    reviewer = User.objects.get(username="carla")
    approve_images([approved.pk], reviewer)
    reject_images([rejected.pk], reviewer, "not_a_painting")

    for image in (pending, rejected):
        for url in (image.image.url, image.thumbnail.url):
            assert statuses(site, url, people) == {"anonymous": 404, "curator": 200, "staff": 200}, url
    for url in (approved.image.url, approved.thumbnail.url):
        assert statuses(site, url, people) == {"anonymous": 200, "curator": 200, "staff": 200}, url


def test_a_file_no_row_owns_is_nobodys(site, people, settings):
    (settings.MEDIA_ROOT / "artworks").mkdir(parents=True)
    (settings.MEDIA_ROOT / "artworks" / "stray.png").write_bytes(b"\x89PNG stray")
    (settings.MEDIA_ROOT / "notes.txt").write_text("secret")
    for url in ("/media/artworks/stray.png", "/media/notes.txt", "/media/artworks/../notes.txt"):
        assert statuses(site, url, people) == {"anonymous": 404, "curator": 404, "staff": 404}, url


def test_checkpoint_and_dataset_pages_link_to_downloads_that_work_for_staff_only(site, people):
    storage = storages["checkpoints"]
    room = Genre.objects.get(slug="landscape")
    run = TrainingRun.objects.create(genre=room)
    name = storage.save(f"runs/{run.pk}/checkpoints/test-media.pt", ContentFile(b"weights"))
    packed = storage.save("datasets/test-media.zip", ContentFile(b"packed"))
    try:
        checkpoint = Checkpoint.objects.create(run=run, kimg=1.0, file=name, sha256="0" * 64)
        dataset = Dataset.objects.create(genre=room, resolution=64, packed_file=packed)
        for page, download, content in (
            (
                reverse("admin:training_checkpoint_change", args=[checkpoint.pk]),
                reverse("admin:training_checkpoint_download", args=[checkpoint.pk]),
                b"weights",
            ),
            (
                reverse("admin:training_dataset_change", args=[dataset.pk]),
                reverse("admin:training_dataset_download", args=[dataset.pk]),
                b"packed",
            ),
        ):
            status, _, html = fetch(site + page, people["staff"])
            assert status == 200
            assert f'href="{download}"'.encode() in html
            assert b'href="/media/' not in html
            status, headers, body = fetch(site + download, people["staff"])
            assert (status, body) == (200, content)
            assert "attachment" in headers["Content-Disposition"]
            assert fetch(site + download, people["curator"])[0] == 403
            assert fetch(site + download)[0] == 302  # to the admin login
    finally:
        storage.delete(name)
        storage.delete(packed)


def test_on_s3_media_urls_name_the_checking_view(settings):
    from museum.mediastorage import ViewServedS3Storage

    storage = ViewServedS3Storage(bucket_name="museum-media", default_acl="private")
    assert storage.url("artworks/ab/abc.png") == "/media/artworks/ab/abc.png"
