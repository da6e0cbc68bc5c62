"""With DEBUG off (production and `make run`), a mistyped address gets the
museum's own 404 page and a crash its own 500 page, in the visitor's language,
never Django's debug page listing every URL pattern."""

from __future__ import annotations

import pytest
from django.urls import path

from museum.urls import urlpatterns as museum_urlpatterns


def boom(request):
    raise RuntimeError("a bug in a view")


urlpatterns = [path("boom/", boom), *museum_urlpatterns]

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.museum.test_error_pages")]


@pytest.fixture
def visitor(client, settings):
    settings.DEBUG = False
    client.raise_request_exception = False
    return client


def test_a_mistyped_address_gets_the_museums_404_page(visitor):
    response = visitor.get("/rooms/no-such-room/x")

    assert response.status_code == 404
    page = response.content.decode()
    assert "This page is not in the museum." in page
    assert "URLconf" not in page and "Page not found (404)" not in page


def test_a_japanese_visitor_gets_the_404_page_in_japanese(visitor):
    page = visitor.get("/ja/no-such-page/").content.decode()

    assert '<html lang="ja">' in page
    assert "This page is not in the museum." not in page


def test_a_crash_gets_the_museums_500_page_without_a_traceback(visitor):
    response = visitor.get("/boom/")

    assert response.status_code == 500
    page = response.content.decode()
    assert "Something went wrong in the museum." in page
    assert "RuntimeError" not in page and "Traceback" not in page
    assert 'href="/static/css/museum' in page or "css/museum" in page


def test_the_500_page_follows_the_visitors_language(visitor):
    page = visitor.get("/boom/", HTTP_ACCEPT_LANGUAGE="ja").content.decode()

    assert '<html lang="ja">' in page
    assert "Something went wrong in the museum." not in page
