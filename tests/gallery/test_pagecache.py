"""Cached public pages: a visitor sees every change on the next request, pages
carry no per-visitor state, and an unreachable cache only makes them uncached.

Each change test runs through the real cache twice: files under the data folder
(the embedded defaults; local memory would be one cache per process, which the
worker painting new artworks could not invalidate) and Redis (REDIS_URL; CI
sets it, locally the Redis case skips).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from gallery.models import Artwork
from gallery.pagecache import bump_generation
from tests.conftest import ROOT
from tests.conftest import test_database_url as worker_database_url

from .factories import genre, make_artwork, make_checkpoint, make_exhibit, make_staff

pytestmark = pytest.mark.django_db

REDIS_CACHE = "museum.cache.RedisCache"
ARTWORKS_ADMIN = "/admin/gallery/artwork/"


@pytest.fixture(params=["files", "redis"])
def page_cache(request, settings, tmp_path) -> str:
    """The two caches the settings choose: Redis, or files on the embedded defaults."""
    if request.param == "redis":
        settings.CACHES = {
            "default": {"BACKEND": REDIS_CACHE, "LOCATION": request.getfixturevalue("redis_url")}
        }
    else:
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
                "LOCATION": str(tmp_path / "cache"),
            }
        }
    bump_generation()  # a fresh start in a cache other tests may have used
    return request.param


def cached(client: Client, url: str) -> str:
    """The page at ``url``, asked twice: the second answer must come from the
    cache, so a later change really has a cached page to retire."""
    first = client.get(url)
    assert first.status_code == 200, url
    second = client.get(url)
    assert second["X-Page-Cache"] == "hit", f"{url} was not served from the cache"
    assert second.content == first.content
    return second.content.decode()


def fresh(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.content.decode()


def curator() -> Client:
    staff = Client()
    staff.force_login(make_staff("curator", perms=("gallery.change_artwork", "gallery.view_artwork")))
    return staff


def test_a_publish_in_the_admin_shows_on_the_next_request(client, page_cache):
    room = genre("portrait")
    make_artwork(room, seed=1, title="Already Hanging")
    draft = make_artwork(room, seed=2, title="Fresh Paint", published=False)
    assert "Fresh Paint" not in cached(client, "/rooms/portrait/")
    assert "1 painting" in cached(client, "/")
    assert "Fresh Paint" not in cached(client, "/ja/rooms/portrait/")
    assert client.get(f"/artworks/{draft.pk}/").status_code == 404

    response = curator().post(
        ARTWORKS_ADMIN, {"action": "publish", "_selected_action": [str(draft.pk)], "index": "0"}
    )
    assert response.status_code == 302

    assert "Fresh Paint" in fresh(client, "/rooms/portrait/")
    assert "2 paintings" in fresh(client, "/")
    assert "Fresh Paint" in fresh(client, "/ja/rooms/portrait/")
    assert "Fresh Paint" in fresh(client, f"/artworks/{draft.pk}/")


def test_an_unpublish_shows_on_the_next_request(client, page_cache):
    room = genre("portrait")
    keep = make_artwork(room, seed=1, title="Stays")
    gone = make_artwork(room, seed=2, title="Taken Down")
    exhibit = make_exhibit(room)
    assert "Taken Down" in cached(client, "/rooms/portrait/")
    assert "Taken Down" in cached(client, f"/artworks/{gone.pk}/")
    assert "Taken Down" in cached(client, f"/artworks/{keep.pk}/")  # its neighbour link
    assert exhibit.get_absolute_url() in cached(client, "/exhibits/")

    gone.published = False
    gone.save()
    exhibit.published = False
    exhibit.save()

    assert "Taken Down" not in fresh(client, "/rooms/portrait/")
    assert client.get(f"/artworks/{gone.pk}/").status_code == 404
    assert "Taken Down" not in fresh(client, f"/artworks/{keep.pk}/")
    assert exhibit.get_absolute_url() not in fresh(client, "/exhibits/")
    assert client.get(exhibit.get_absolute_url()).status_code == 404


def test_new_artworks_and_a_new_exhibit_show_on_the_next_request(client, page_cache):
    room = genre("landscape")
    make_artwork(room, seed=1, title="First Light")
    assert "1 painting in this room" in cached(client, "/rooms/landscape/")
    assert "1 painting" in cached(client, "/")
    assert "No mixing exhibits are on show yet." in cached(client, "/exhibits/")

    make_artwork(room, seed=2, title="Second Light")  # as a generation batch saves them
    Artwork.objects.bulk_create(
        [Artwork(genre=room, title="Bulk Light", seed=3, published=True, image="artworks/x.png")]
    )
    exhibit = make_exhibit(room)

    room_page = fresh(client, "/rooms/landscape/")
    assert "3 paintings in this room" in room_page
    assert "Second Light" in room_page and "Bulk Light" in room_page
    assert "3 paintings" in fresh(client, "/")
    assert exhibit.get_absolute_url() in fresh(client, "/exhibits/")


def test_a_genre_edit_shows_on_the_next_request_in_both_languages(client, page_cache):
    room = genre("portrait")
    art = make_artwork(room, seed=1)
    assert "Portraits" in cached(client, "/")
    assert "肖像画" in cached(client, "/ja/rooms/portrait/")
    assert "Portraits" in cached(client, f"/artworks/{art.pk}/")

    room.name = "Faces"
    room.name_ja = "顔"
    room.description = "People looking back at you."
    room.save()

    home = fresh(client, "/")
    assert "Faces" in home and "People looking back at you." in home
    assert '<h1 class="page-title">顔</h1>' in fresh(client, "/ja/rooms/portrait/")
    assert "Faces" in fresh(client, f"/artworks/{art.pk}/")


def test_a_checkpoint_edit_shows_on_the_artwork_page(client, page_cache):
    checkpoint = make_checkpoint(genre("portrait"), kimg=1200)
    art = make_artwork(genre("portrait"), seed=1, checkpoint=checkpoint)
    assert "after 1200 kimg" in cached(client, f"/artworks/{art.pk}/")
    checkpoint.kimg = 1400
    checkpoint.save()
    assert "after 1400 kimg" in fresh(client, f"/artworks/{art.pk}/")


@pytest.mark.django_db(transaction=True)
def test_a_page_rendered_before_a_change_commits_is_not_served_after_it():
    """Another visitor may render the room from the old rows while a change is
    still uncommitted; the commit must retire that page too."""
    room = genre("portrait")
    art = make_artwork(room, seed=1, title="Late Arrival", published=False)
    seen_before_commit: list[str] = []

    def visitor() -> None:
        try:
            seen_before_commit.append(Client().get("/rooms/portrait/").content.decode())
        finally:
            connection.close()

    with transaction.atomic():
        art.published = True
        art.save()
        thread = threading.Thread(target=visitor)
        thread.start()
        thread.join()
    assert "Late Arrival" not in seen_before_commit[0]  # the other visitor saw the committed rows
    assert "Late Arrival" in fresh(Client(), "/rooms/portrait/")


@pytest.mark.django_db(transaction=True)
def test_a_publish_by_another_process_retires_this_process_pages(settings):
    """Artworks are painted and published by worker processes: their change must
    reach the web's cache (files or Redis are shared; local memory would not be)."""
    art = make_artwork(genre("portrait"), seed=1, title="Painted Elsewhere", published=False)
    visitor = Client()
    assert "Painted Elsewhere" not in cached(visitor, "/rooms/portrait/")
    script = (
        "import django; django.setup(); from gallery.models import Artwork; "
        f"a = Artwork.objects.get(pk={art.pk}); a.published = True; a.save()"
    )
    env = {**os.environ, "DATABASE_URL": worker_database_url(), "AAG_DATA_DIR": str(settings.DATA_DIR)}
    subprocess.run([sys.executable, "-c", script], env=env, cwd=ROOT, check=True, timeout=120)
    assert "Painted Elsewhere" in fresh(visitor, "/rooms/portrait/")


def test_staff_previews_are_never_served_to_visitors(client, page_cache):
    draft = make_artwork(genre("portrait"), seed=1, title="Secret Sketch", published=False)
    staff = curator()
    preview = staff.get(f"/artworks/{draft.pk}/")
    assert (
        preview.status_code == 200 and "Preview: this painting is not published" in preview.content.decode()
    )
    assert "X-Page-Cache" not in preview  # staff pages are rendered for them alone
    # ... and no browser or proxy may keep them (a shared computer, a CDN).
    control = {part.strip() for part in preview["Cache-Control"].split(",")}
    assert {"private", "no-store"} <= control and "ETag" not in preview
    assert client.get(f"/artworks/{draft.pk}/").status_code == 404


def revalidate(client: Client, url: str, etag: str):
    return client.get(url, headers={"if-none-match": etag})


def test_a_browser_asking_again_gets_an_empty_304_until_something_changes(client, page_cache):
    """A returning visitor's browser (or a proxy) revalidates each page by its ETag:
    an unchanged page costs an empty answer, a changed one comes back in full."""
    room = genre("portrait")
    make_artwork(room, seed=1, title="Already Hanging")
    for url in ("/rooms/portrait/", "/ja/rooms/portrait/", "/"):
        first = client.get(url)
        assert first.status_code == 200 and first["X-Page-Cache"] == "miss"
        control = {part.strip() for part in first["Cache-Control"].split(",")}
        assert "no-cache" in control and not control & {"private", "no-store"}, url
        etag = first["ETag"]
        for _ in range(2):  # rendered once, then from the page cache
            again = revalidate(client, url, etag)
            assert again.status_code == 304 and again.content == b"", url
            assert again["ETag"] == etag
        assert revalidate(client, url, '"some-other-page"').status_code == 200

    etag = client.get("/rooms/portrait/")["ETag"]
    make_artwork(room, seed=2, title="Fresh Paint")
    changed = revalidate(client, "/rooms/portrait/", etag)
    assert changed.status_code == 200 and "Fresh Paint" in changed.content.decode()
    assert changed["ETag"] != etag
    assert revalidate(client, "/rooms/portrait/", changed["ETag"]).status_code == 304


def test_a_cached_page_runs_no_sql(client, page_cache):
    make_artwork(genre("portrait"), seed=1)
    cached(client, "/rooms/portrait/")
    with CaptureQueriesContext(connection) as queries:
        assert client.get("/rooms/portrait/")["X-Page-Cache"] == "hit"
    assert len(queries) == 0, [q["sql"] for q in queries]


def test_anonymous_pages_set_no_cookie_and_vary_on_cookie_only_where_the_language_cookie_counts(client):
    """The crowd carries no cookie (no page sets one), so every anonymous visitor shares one
    cached answer, even in a cache that honours Vary: Cookie. A prefixed address names its
    language and does not vary on Cookie at all; an unprefixed one does, because the
    switcher's language cookie changes its answer (a redirect to the chosen language)."""
    art = make_artwork(genre("portrait"), seed=1)
    exhibit = make_exhibit()
    for url in (
        "/",
        "/ja/",
        "/rooms/portrait/",
        "/ja/rooms/portrait/?page=2",
        f"/artworks/{art.pk}/",
        f"/ja/artworks/{art.pk}/",
        "/exhibits/",
        exhibit.get_absolute_url(),
    ):
        answers = []
        for attempt in ("miss", "hit"):
            response = Client().get(url)
            assert response.status_code == 200
            assert not response.cookies, f"{url} ({attempt}) set {list(response.cookies)}"
            assert "csrfmiddlewaretoken" not in response.content.decode()
            answers.append(response.content)
            vary = {v.strip().lower() for v in response.get("Vary", "").split(",") if v.strip()}
            if url.startswith("/ja/"):
                assert "cookie" not in vary, f"{url} ({attempt}) varies on Cookie"
            else:
                assert "cookie" in vary, (
                    f"{url} ({attempt}) depends on the language cookie but does not say so"
                )
        assert answers[0] == answers[1], f"two visitors got different answers for {url}"
        if not url.startswith("/ja/"):
            chooser = Client()
            chooser.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
            chosen = chooser.get(url)
            assert chosen.status_code == 302 and chosen["Location"] == f"/ja{url}", url


def test_the_language_buttons_work_without_a_csrf_token(client):
    visitor = Client(enforce_csrf_checks=True)
    page = fresh(visitor, "/rooms/portrait/")
    assert 'action="/i18n/setlang/"' in page and 'name="next" value="/ja/rooms/portrait/"' in page
    response = visitor.post("/i18n/setlang/", {"language": "ja", "next": "/ja/rooms/portrait/"})
    assert response.status_code == 302 and response["Location"] == "/ja/rooms/portrait/"
    assert '<html lang="ja">' in fresh(visitor, response["Location"])


def closed_port() -> int:
    """A loopback port nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def cache_down(settings) -> None:
    settings.CACHES = {
        "default": {"BACKEND": REDIS_CACHE, "LOCATION": f"redis://127.0.0.1:{closed_port()}/0"}
    }


def test_with_the_cache_unreachable_pages_are_served_and_healthz_says_so(client, cache_down):
    room = genre("portrait")
    art = make_artwork(room, seed=1, title="Still On Show")
    exhibit = make_exhibit(room)
    pages = ["/", "/ja/", "/rooms/portrait/", "/ja/rooms/portrait/?page=1", f"/artworks/{art.pk}/"]
    for url in [*pages, "/exhibits/", exhibit.get_absolute_url()]:
        response = client.get(url)
        assert response.status_code == 200, url
        assert "X-Page-Cache" not in response
    assert "Still On Show" in fresh(client, "/rooms/portrait/")
    # Changes while the cache is down still show at once (nothing was cached).
    make_artwork(room, seed=2, title="Hung During The Outage")
    assert "Hung During The Outage" in fresh(client, "/rooms/portrait/")
    # Browsers still revalidate: an unchanged page is an empty 304.
    etag = client.get("/rooms/portrait/")["ETag"]
    assert revalidate(client, "/rooms/portrait/", etag).status_code == 304
    # Staff pages too (the admin is not cached, but shares the context processors' cache use).
    assert curator().get(f"/artworks/{art.pk}/").status_code == 200

    health = client.get("/healthz")
    assert health.status_code == 503
    body = health.content.decode()
    assert body.startswith("down: cache\n")
    assert "database: ok" in body and "broker: ok" in body
    assert "cache: down: ConnectionError" in body

    # The load balancer's probe keeps the process in rotation: it serves pages.
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.content.decode()
    assert body.startswith("ready, degraded: cache\n") and "database: ok" in body


def test_healthz_is_ok_when_everything_answers(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.content.decode() == "ok\ndatabase: ok\ncache: ok\nbroker: ok\n"


def test_healthz_reports_an_unreachable_broker(client):
    from museum.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    try:
        response = client.get("/healthz")
    finally:
        app.conf.broker_url = saved
    assert response.status_code == 503
    body = response.content.decode()
    assert body.startswith("down: broker\n") and "cache: ok" in body
    assert "broker: down: OperationalError" in body


def test_readyz_keeps_a_process_in_rotation_through_a_redis_outage(client, cache_down):
    from museum.celery import app

    saved = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    try:
        response = client.get("/readyz")
        room = client.get("/rooms/portrait/")
    finally:
        app.conf.broker_url = saved
    assert response.status_code == 200 and room.status_code == 200
    body = response.content.decode()
    assert body.startswith("ready, degraded: cache, broker\n")
    assert "cache: down: ConnectionError" in body and "broker: down: OperationalError" in body


def test_readyz_is_ready_when_everything_answers(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.content.decode() == "ready\ndatabase: ok\ncache: ok\nbroker: ok\n"


@pytest.mark.django_db(transaction=True)
def test_readyz_takes_the_process_out_of_rotation_when_the_database_is_down(client, tmp_path):
    from django.db import connection

    saved = dict(connection.settings_dict)
    connection.close()
    if connection.vendor == "sqlite":
        connection.settings_dict["NAME"] = str(tmp_path / "no such folder" / "museum.sqlite3")
    else:
        connection.settings_dict["PORT"] = str(closed_port())
        connection.settings_dict["HOST"] = "127.0.0.1"
    try:
        response = client.get("/readyz")
        health = client.get("/healthz")
    finally:
        connection.close()
        connection.settings_dict.clear()
        connection.settings_dict.update(saved)
    assert response.status_code == 503 and health.status_code == 503
    body = response.content.decode()
    assert body.startswith("not ready: the database is down\n")
    assert "database: down: OperationalError" in body and "cache: ok" in body


def test_a_logged_in_visitor_who_is_not_staff_gets_the_shared_page(client, page_cache):
    make_artwork(genre("portrait"), seed=1)
    member = Client()
    member.force_login(User.objects.create_user("member", password="a-long-test-password"))
    assert member.get("/rooms/portrait/").status_code == 200
    assert cached(client, "/rooms/portrait/")
    assert member.get("/rooms/portrait/")["X-Page-Cache"] == "hit"
