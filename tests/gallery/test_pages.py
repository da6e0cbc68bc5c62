"""The public pages, in English and Japanese, as a visitor sees them."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from gallery.views import ROOM_PAGE_SIZE

from .factories import bulk_artworks, genre, make_artwork, make_checkpoint, make_exhibit, make_staff

pytestmark = pytest.mark.django_db


def text(response) -> str:
    return response.content.decode()


@pytest.fixture
def hung(db):
    """Two published paintings in the portrait room, one unpublished, one exhibit."""
    room = genre("portrait")
    now = timezone.now()
    older = make_artwork(room, seed=1, title="The Older One", created=now - timedelta(hours=2))
    newer = make_artwork(room, seed=2, title="The Newer One", created=now - timedelta(hours=1))
    hidden = make_artwork(room, seed=3, title="Hidden Sketch", published=False, created=now)
    exhibit = make_exhibit(room)
    return {"room": room, "older": older, "newer": newer, "hidden": hidden, "exhibit": exhibit}


def test_home_lists_every_room_with_cover_and_count(client, hung):
    response = client.get("/")
    assert response.status_code == 200
    body = text(response)
    assert '<html lang="en">' in body
    for name in ("Portraits", "Flower still lifes", "Landscapes", "Cityscapes"):
        assert name in body
    assert "2 paintings" in body  # the unpublished one is not counted
    assert "0 paintings" in body  # empty rooms say so
    # The newest published painting is the room's cover.
    assert hung["newer"].thumb_large_jpeg.url in body
    assert hung["hidden"].thumb_large_jpeg.url not in body


def test_home_in_japanese(client, hung):
    response = client.get("/ja/")
    assert response.status_code == 200
    body = text(response)
    assert '<html lang="ja">' in body
    assert "AIアート美術館" in body
    for name in ("肖像画", "静物画・花", "風景画", "都市景観画"):
        assert name in body
    assert "展示室" in body
    assert "2 点" in body
    assert "Rooms" not in body  # the navigation is translated too
    assert 'href="/ja/rooms/portrait/"' in body


def test_room_shows_published_paintings_newest_first(client, hung):
    response = client.get("/rooms/portrait/")
    assert response.status_code == 200
    body = text(response)
    assert body.index("The Newer One") < body.index("The Older One")
    assert "Hidden Sketch" not in body
    assert "2 paintings in this room" in body


def test_room_picture_markup(client, db):
    room = genre("landscape")
    for seed in range(6):
        make_artwork(room, seed=seed, size=700, created=timezone.now() - timedelta(minutes=seed))
    body = text(client.get("/rooms/landscape/"))
    pictures = re.findall(r"<picture>.*?</picture>", body, re.S)
    assert len(pictures) == 6
    for picture in pictures:
        source = re.search(r'<source type="image/webp" srcset="([^"]+)"', picture).group(1)
        assert re.fullmatch(r"\S+\.webp 320w, \S+\.webp 640w", source)
        img = re.search(r"<img [^>]+>", picture).group(0)
        assert re.search(r'srcset="\S+\.jpg 320w, \S+\.jpg 640w"', img)
        assert 'sizes="' in img
        assert 'width="320" height="320"' in img
        assert 'alt="Study ' in img
    loading = [re.search(r'loading="(\w+)"', p).group(1) for p in pictures]
    assert loading == ["eager"] * 4 + ["lazy"] * 2  # the first row only loads eagerly


def test_room_in_japanese_uses_genre_name_ja(client, hung):
    body = text(client.get("/ja/rooms/portrait/"))
    assert '<h1 class="page-title">肖像画</h1>' in body
    assert "この展示室の作品 2 点" in body


def test_empty_room_is_friendly(client, db):
    response = client.get("/rooms/cityscape/")
    assert response.status_code == 200
    assert "This room is still empty." in text(response)
    assert "この展示室はまだ空です。" in text(client.get("/ja/rooms/cityscape/"))


def test_unknown_room_is_404(client, db):
    assert client.get("/rooms/no-such-room/").status_code == 404
    assert client.get("/ja/rooms/no-such-room/").status_code == 404


def test_room_pagination(client, db):
    room = genre("portrait")
    bulk_artworks(room, ROOM_PAGE_SIZE + 5)
    first = text(client.get("/rooms/portrait/"))
    assert first.count("<picture>") == ROOM_PAGE_SIZE
    assert "Page 1 of 2" in first
    assert 'rel="next" href="?page=2"' in first
    second = text(client.get("/rooms/portrait/?page=2"))
    assert second.count("<picture>") == 5
    assert 'rel="prev" href="?page=1"' in second
    # The two pages show different paintings.
    firsts = set(re.findall(r'href="(/artworks/\d+/)"', first))
    seconds = set(re.findall(r'href="(/artworks/\d+/)"', second))
    assert len(firsts) == ROOM_PAGE_SIZE and len(seconds) == 5 and not firsts & seconds
    # A page number out of range or not a number shows the nearest real page.
    assert client.get("/rooms/portrait/?page=99").status_code == 200
    assert client.get("/rooms/portrait/?page=abc").status_code == 200


def test_artwork_page_shows_provenance(client, db):
    checkpoint = make_checkpoint(genre("portrait"), kimg=1200)
    art = make_artwork(seed=4242, psi=0.5, noise_mode="random", checkpoint=checkpoint, title="Lady in Blue")
    response = client.get(f"/artworks/{art.pk}/")
    assert response.status_code == 200
    body = text(response)
    assert '<h1 class="label__title">Lady in Blue</h1>' in body
    assert f"training run {checkpoint.run_id}, after 1200 kimg" in body
    assert "4242" in body
    assert "0.50" in body
    assert "random" in body
    assert art.image.url in body  # the full-size image is linked
    ja = text(client.get(f"/ja/artworks/{art.pk}/"))
    assert "来歴" in ja and "シード" in ja and "ランダム" in ja


def test_artwork_previous_and_next_within_the_room(client, hung):
    middle = make_artwork(
        hung["room"], seed=9, title="The Middle One", created=hung["older"].created + timedelta(minutes=30)
    )
    elsewhere = make_artwork(genre("landscape"), seed=10, created=middle.created)
    body = text(client.get(f"/artworks/{middle.pk}/"))
    assert f'rel="prev" class="neighbours__prev" href="/artworks/{hung["newer"].pk}/"' in body
    assert f'rel="next" class="neighbours__next" href="/artworks/{hung["older"].pk}/"' in body
    assert f"/artworks/{elsewhere.pk}/" not in body
    assert f"/artworks/{hung['hidden'].pk}/" not in body  # unpublished ones are skipped
    newest = text(client.get(f"/artworks/{hung['newer'].pk}/"))
    assert 'rel="prev"' not in newest and 'rel="next"' in newest


def test_unpublished_artwork_is_404_for_the_public(client, hung):
    url = f"/artworks/{hung['hidden'].pk}/"
    assert client.get(url).status_code == 404
    assert client.get("/ja" + url).status_code == 404
    assert client.get("/artworks/999999/").status_code == 404


def test_staff_who_may_change_artworks_can_preview(client, hung):
    url = f"/artworks/{hung['hidden'].pk}/"
    client.force_login(make_staff("viewer", perms=("gallery.view_artwork",)))
    assert client.get(url).status_code == 404
    client.force_login(make_staff("editor", perms=("gallery.change_artwork",)))
    response = client.get(url)
    assert response.status_code == 200
    assert "this painting is not published" in text(response)


def test_exhibit_list_and_detail(client, hung):
    exhibit = hung["exhibit"]
    listing = text(client.get("/exhibits/"))
    assert "Test mixing" in listing
    assert f'href="/exhibits/{exhibit.pk}/"' in listing
    response = client.get(f"/exhibits/{exhibit.pk}/")
    assert response.status_code == 200
    body = text(response)
    head = re.search(r"<thead>.*?</thead>", body, re.S).group(0)
    assert head.count("<img") == 3  # sources B across the top
    bands = re.findall(r'<tbody class="mixing__band mixing__band--(\w+)">(.*?)</tbody>', body, re.S)
    assert [b[0] for b in bands] == ["coarse", "middle", "fine"]
    for _band, rows_html in bands:
        rows = re.findall(r'<tr>\s*<th scope="row".*?</tr>', rows_html, re.S)
        assert len(rows) == 2  # sources A down the side
        assert all(r.count("<td>") == 3 for r in rows)
    assert "layers 0–3" in body and "layers 4–7" in body and "layers 8–13" in body
    assert "4²–8²" in body and "64²–256²" in body
    ja = text(client.get(f"/ja/exhibits/{exhibit.pk}/"))
    assert "第0–3層" in ja and "Bから写したスタイル：粗い" in ja


def test_unpublished_exhibit_is_404_and_not_listed(client, db):
    hidden = make_exhibit(published=False)
    assert client.get(f"/exhibits/{hidden.pk}/").status_code == 404
    assert f"/exhibits/{hidden.pk}/" not in text(client.get("/exhibits/"))
    assert "No mixing exhibits are on show yet." in text(client.get("/exhibits/"))
    client.force_login(make_staff("editor", perms=("gallery.change_mixingexhibit",)))
    assert client.get(f"/exhibits/{hidden.pk}/").status_code == 200


def test_every_page_has_the_language_switcher(client, hung):
    for url in ("/", "/rooms/portrait/", f"/artworks/{hung['newer'].pk}/", "/exhibits/"):
        body = text(client.get(url))
        assert 'action="/i18n/setlang/"' in body
        assert f'name="next" value="/ja{url}"' in body
        assert 'value="ja"' in body and "日本語" in body


def test_language_switch_round_trip(client, hung):
    response = client.post("/i18n/setlang/", {"language": "ja", "next": "/ja/rooms/portrait/"})
    assert response.status_code == 302 and response["Location"] == "/ja/rooms/portrait/"
    ja = text(client.get(response["Location"]))
    assert "肖像画" in ja
    # From the Japanese page the English button points back to the unprefixed page.
    assert 'name="next" value="/rooms/portrait/"' in ja
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/rooms/portrait/"})
    assert response["Location"] == "/rooms/portrait/"
    assert '<h1 class="page-title">Portraits</h1>' in text(client.get("/rooms/portrait/"))


def test_media_files_are_served(client, hung):
    response = client.get(hung["newer"].thumb_small_webp.url)
    assert response.status_code == 200
    assert b"".join(response.streaming_content)[:4] == b"RIFF"
