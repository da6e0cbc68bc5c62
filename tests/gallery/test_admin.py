"""Admin: staff publish and unpublish through the real changelist forms."""

from __future__ import annotations

import pytest

from gallery.models import Artwork, MixingExhibit

from .factories import genre, make_artwork, make_exhibit, make_staff

pytestmark = pytest.mark.django_db

ARTWORKS = "/admin/gallery/artwork/"
EXHIBITS = "/admin/gallery/mixingexhibit/"


def run_action(client, url: str, action: str, pks: list[int]):
    return client.post(url, {"action": action, "_selected_action": [str(pk) for pk in pks], "index": "0"})


def test_changelist_shows_thumbnails_and_filters(client):
    art = make_artwork(seed=7, title="Thumbnail Test")
    client.force_login(make_staff(perms=("gallery.view_artwork", "gallery.change_artwork")))
    body = client.get(ARTWORKS).content.decode()
    assert "Thumbnail Test" in body
    assert f'<img src="{art.thumb_small_jpeg.url}"' in body
    assert "By room" in body and "By published" in body
    filtered = client.get(ARTWORKS, {"genre__id__exact": genre("landscape").pk}).content.decode()
    assert "Thumbnail Test" not in filtered
    unpublished = client.get(ARTWORKS, {"published__exact": "0"}).content.decode()
    assert "Thumbnail Test" not in unpublished


def test_staff_with_change_permission_publish_and_unpublish_artworks(client):
    drafts = [make_artwork(seed=s, published=False) for s in range(3)]
    keep = make_artwork(seed=9, published=False)
    client.force_login(make_staff(perms=("gallery.view_artwork", "gallery.change_artwork")))

    response = run_action(client, ARTWORKS, "publish", [a.pk for a in drafts])
    assert response.status_code == 302
    assert set(Artwork.objects.filter(published=True).values_list("pk", flat=True)) == {a.pk for a in drafts}
    assert "Published 3 artworks." in client.get(response["Location"]).content.decode()
    assert client.get(f"/artworks/{drafts[0].pk}/").status_code == 200
    assert not Artwork.objects.get(pk=keep.pk).published

    response = run_action(client, ARTWORKS, "unpublish", [drafts[0].pk])
    assert response.status_code == 302
    assert not Artwork.objects.get(pk=drafts[0].pk).published
    client.logout()
    assert client.get(f"/artworks/{drafts[0].pk}/").status_code == 404


def test_publish_is_refused_without_change_permission(client):
    draft = make_artwork(seed=1, published=False)
    client.force_login(make_staff(perms=("gallery.view_artwork",)))
    body = client.get(ARTWORKS).content.decode()
    assert 'value="publish"' not in body  # the action is not offered
    response = run_action(client, ARTWORKS, "publish", [draft.pk])
    assert response.status_code in (200, 302)
    assert not Artwork.objects.get(pk=draft.pk).published


def test_non_staff_cannot_reach_the_admin(client):
    draft = make_artwork(seed=1, published=False)
    user = make_staff("visitor", perms=("gallery.change_artwork",))
    user.is_staff = False
    user.save()
    client.force_login(user)
    response = run_action(client, ARTWORKS, "publish", [draft.pk])
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not Artwork.objects.get(pk=draft.pk).published


def test_artwork_change_page_keeps_provenance_read_only(client):
    art = make_artwork(seed=31337, psi=0.6)
    client.force_login(make_staff(perms=("gallery.view_artwork", "gallery.change_artwork")))
    body = client.get(f"{ARTWORKS}{art.pk}/change/").content.decode()
    assert "31337" in body
    assert 'name="seed"' not in body and 'name="psi"' not in body
    assert 'name="title"' in body and 'name="published"' in body
    client.post(
        f"{ARTWORKS}{art.pk}/change/",
        {"title": "Renamed", "genre": art.genre_id, "published": "on", "seed": "1", "psi": "0.1"},
    )
    art.refresh_from_db()
    assert art.title == "Renamed" and art.seed == 31337 and art.psi == pytest.approx(0.6)


def test_the_artwork_list_says_on_how_many_layers_psi_was_applied(client):
    make_artwork(seed=41, psi=0.5, truncation_cutoff=4)
    make_artwork(seed=42, psi=0.7)
    client.force_login(make_staff(perms=("gallery.view_artwork",)))
    body = client.get(ARTWORKS).content.decode()
    assert "seed 41 · ψ 0.5 (first 4 layers)" in body
    assert "seed 42 · ψ 0.7 ·" in body


def test_exhibit_admin_publishes_and_previews_grids(client):
    exhibit = make_exhibit(published=False)
    client.force_login(make_staff(perms=("gallery.view_mixingexhibit", "gallery.change_mixingexhibit")))
    body = client.get(f"{EXHIBITS}{exhibit.pk}/change/").content.decode()
    cells = [c.image.url for g in exhibit.grids.all() for c in g.cells.all()]
    assert all(url in body for url in cells)  # every band's grid is previewed
    response = run_action(client, EXHIBITS, "publish", [exhibit.pk])
    assert response.status_code == 302
    assert MixingExhibit.objects.get(pk=exhibit.pk).published
    run_action(client, EXHIBITS, "unpublish", [exhibit.pk])
    assert not MixingExhibit.objects.get(pk=exhibit.pk).published


def test_genre_admin_lists_rooms(client):
    client.force_login(make_staff(perms=("gallery.view_genre", "gallery.change_genre")))
    body = client.get("/admin/gallery/genre/").content.decode()
    assert "Portraits" in body and "肖像画" in body
