"""The sample museum answers like the AIC API, over real HTTP, with images painted on demand."""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from urllib.parse import quote, urlencode
from urllib.robotparser import RobotFileParser

import numpy as np
import pytest
from PIL import Image

from scraper.samplemuseum.painter import paint
from scraper.samplemuseum.server import ARTIST, start_sample_museum

PER_GENRE = 7
SIZE = 64
FIELDS = "id,title,image_id,artist_title,date_display,classification_titles,subject_titles,is_public_domain"


@pytest.fixture(scope="module")
def museum() -> Iterator[str]:
    server, base_url = start_sample_museum(per_genre=PER_GENRE, image_size=SIZE)
    yield base_url
    server.stop()


def get(url: str) -> tuple[int, str, bytes]:
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read()


def search_url(base: str, q: str, limit: int, page: int = 1) -> str:
    params = {"q": q, "query[term][is_public_domain]": "true", "fields": FIELDS, "limit": limit, "page": page}
    return f"{base}/api/v1/artworks/search?{urlencode(params)}"


def crawl_search(base: str, q: str, limit: int) -> tuple[list[dict], list[dict]]:
    """Follow next_url like a spider does; returns (all records, every page's pagination)."""
    url: str | None = search_url(base, q, limit)
    records, paginations = [], []
    while url:
        status, content_type, body = get(url)
        assert status == 200
        assert content_type == "application/json"
        page = json.loads(body)
        assert page["config"] == {"iiif_url": f"{base}/iiif/2", "website_url": base}
        records += page["data"]
        paginations.append(page["pagination"])
        url = page["pagination"]["next_url"]
    return records, paginations


def test_search_pages_through_one_genre_to_the_end(museum: str) -> None:
    records, paginations = crawl_search(museum, "portrait", limit=3)
    assert [p["current_page"] for p in paginations] == [1, 2, 3]
    assert [p["offset"] for p in paginations] == [0, 3, 6]
    assert all(p["total"] == PER_GENRE and p["total_pages"] == 3 and p["limit"] == 3 for p in paginations)
    assert paginations[-1]["next_url"] is None
    assert len({r["id"] for r in records}) == PER_GENRE
    for record in records:
        assert set(record) == set(FIELDS.split(","))
        assert record["is_public_domain"] is True
        assert record["artist_title"] == ARTIST
        assert "synthetic" in record["artist_title"]
        assert record["title"]
        assert "portraits" in record["subject_titles"]


@pytest.mark.parametrize(
    ("query", "subject"),
    [
        ("portrait", "portraits"),
        ("flowers", "flowers"),
        ("still life flowers", "flowers"),
        ("landscape", "landscapes"),
        ("cityscape", "cityscapes"),
        ("city view", "cityscapes"),
    ],
)
def test_the_rooms_search_terms_find_their_genre_only(museum: str, query: str, subject: str) -> None:
    records, _ = crawl_search(museum, query, limit=100)
    assert len(records) == PER_GENRE
    assert all(subject in r["subject_titles"] for r in records)


def test_a_query_for_nothing_we_hold_is_empty(museum: str) -> None:
    records, paginations = crawl_search(museum, "sculpture", limit=10)
    assert records == []
    assert paginations[0]["total"] == 0
    assert paginations[0]["next_url"] is None


def test_fields_limit_what_each_record_carries(museum: str) -> None:
    _, _, body = get(f"{museum}/api/v1/artworks/search?q=landscape&fields=id,image_id&limit=2")
    data = json.loads(body)["data"]
    assert [set(r) for r in data] == [{"id", "image_id"}] * 2


def test_images_are_the_painters_work_as_jpeg_at_the_size_requested(museum: str) -> None:
    records, _ = crawl_search(museum, "flowers", limit=100)
    first = records[0]
    iiif = f"{museum}/iiif/2/{first['image_id']}/full"
    status, content_type, body = get(f"{iiif}/843,/0/default.jpg")
    assert (status, content_type) == (200, "image/jpeg")
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG"
    # Larger than the painting: served at the painting's own size.
    assert image.size == (SIZE, SIZE)
    painted = np.asarray(paint("flower-still-life", first["id"] % 1_000_000 - 1, SIZE), dtype=np.float32)
    assert np.abs(np.asarray(image.convert("RGB"), dtype=np.float32) - painted).mean() < 6
    _, _, small = get(f"{iiif}/40,/0/default.jpg")
    assert Image.open(io.BytesIO(small)).size == (40, 40)
    # Another work is another picture.
    _, _, other = get(f"{museum}/iiif/2/{records[1]['image_id']}/full/843,/0/default.jpg")
    other_pixels = np.asarray(Image.open(io.BytesIO(other)).convert("RGB"), dtype=np.float32)
    assert np.abs(other_pixels - painted).mean() > 8


def test_artwork_page_and_json_show_the_work(museum: str) -> None:
    records, _ = crawl_search(museum, "cityscape", limit=100)
    work = records[0]
    status, content_type, body = get(f"{museum}/artworks/{work['id']}")
    assert status == 200
    assert content_type.startswith("text/html")
    page = body.decode()
    assert work["title"] in page
    assert f"/iiif/2/{work['image_id']}/full/843,/0/default.jpg" in page
    _, _, detail = get(f"{museum}/api/v1/artworks/{work['id']}?fields=id,title")
    assert json.loads(detail)["data"] == {"id": work["id"], "title": work["title"]}


@pytest.mark.parametrize(
    "path",
    [
        "/artworks/999",
        "/api/v1/artworks/999",
        "/iiif/2/00000000-0000-0000-0000-000000000000/full/843,/0/default.jpg",
        "/no/such/page",
    ],
)
def test_unknown_things_are_404_with_a_reason(museum: str, path: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        get(museum + path)
    assert info.value.code == 404
    assert "sample museum" in json.loads(info.value.read())["detail"]


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "page=0", "limit=ten"])
def test_bad_paging_is_400(museum: str, query: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as info:
        get(f"{museum}/api/v1/artworks/search?q=portrait&{query}")
    assert info.value.code == 400


def test_bad_iiif_size_is_400(museum: str) -> None:
    records, _ = crawl_search(museum, "portrait", limit=1)
    with pytest.raises(urllib.error.HTTPError) as info:
        get(f"{museum}/iiif/2/{records[0]['image_id']}/full/{quote('big,')}/0/default.jpg")
    assert info.value.code == 400


def test_robots_txt_allows_crawling(museum: str) -> None:
    robots = RobotFileParser(f"{museum}/robots.txt")
    robots.read()
    assert robots.can_fetch("AIArtGalleryBot", search_url(museum, "portrait", 100))
    assert robots.can_fetch("AIArtGalleryBot", f"{museum}/iiif/2/x/full/843,/0/default.jpg")
