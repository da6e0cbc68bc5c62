"""Pages stay fast as rooms grow: their SQL query count does not depend on
how many paintings there are."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext

from gallery.views import ROOM_PAGE_SIZE

from .factories import bulk_artworks, genre, make_exhibit

pytestmark = pytest.mark.django_db


def count_queries(client, url: str) -> tuple[int, str]:
    # Every count starts cold: a value cached by the first request (the
    # offline-demo notice) would otherwise make only the first one larger.
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_room_page_query_count_is_the_same_for_5_and_500_artworks(client):
    room = genre("portrait")
    bulk_artworks(room, 5)
    small, small_body = count_queries(client, "/rooms/portrait/")
    assert small_body.count("<picture>") == 5

    bulk_artworks(room, 495, start_seed=5000)
    large, large_body = count_queries(client, "/rooms/portrait/")
    assert large_body.count("<picture>") == ROOM_PAGE_SIZE
    assert "500 paintings in this room" in large_body
    assert large == small, f"room page ran {small} queries with 5 artworks but {large} with 500"
    later_page, _ = count_queries(client, "/rooms/portrait/?page=15")
    assert later_page == small


def test_home_query_count_does_not_grow_with_artworks(client):
    bulk_artworks(genre("portrait"), 3)
    few, _ = count_queries(client, "/")
    for slug in ("landscape", "cityscape", "flower-still-life"):
        bulk_artworks(genre(slug), 40, start_seed=7000)
    many, body = count_queries(client, "/")
    assert "40 paintings" in body
    assert many == few


def test_artwork_page_query_count_is_fixed(client):
    works = bulk_artworks(genre("portrait"), 30)
    first, _ = count_queries(client, f"/artworks/{works[0].pk}/")
    middle, _ = count_queries(client, f"/artworks/{works[15].pk}/")
    assert first == middle


def test_exhibit_page_query_count_does_not_grow_with_its_grid(client):
    small = make_exhibit(rows=1, cols=1)
    large = make_exhibit(rows=4, cols=5)
    small_count, _ = count_queries(client, f"/exhibits/{small.pk}/")
    large_count, body = count_queries(client, f"/exhibits/{large.pk}/")
    assert body.count("<td><img") == 3 * 4 * 5
    assert large_count == small_count
