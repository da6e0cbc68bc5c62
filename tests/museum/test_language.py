"""A Japanese browser gets the Japanese museum and a Japanese admin; an
explicit language choice (the switcher's cookie) beats what the browser asks for."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import User

JA = {"HTTP_ACCEPT_LANGUAGE": "ja,en-US;q=0.7,en;q=0.3"}


@pytest.mark.django_db
def test_a_japanese_browser_opening_the_home_page_gets_japanese(client):
    response = client.get("/", follow=True, **JA)

    assert response.redirect_chain == [("/ja/", 302)]
    assert response["Content-Language"] == "ja"
    assert '<html lang="ja">' in response.content.decode()
    assert "展示室" in response.content.decode()  # "Rooms" in the header


@pytest.mark.django_db
def test_the_redirect_keeps_the_query_and_varies_on_language_and_cookie(client):
    response = client.get("/exhibits/?page=2", **JA)

    assert response.status_code == 302
    assert response["Location"] == "/ja/exhibits/?page=2"
    assert {"accept-language", "cookie"} <= {v.strip().lower() for v in response["Vary"].split(",")}


@pytest.mark.django_db
def test_an_english_browser_stays_on_the_unprefixed_english_page(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="en-GB,en;q=0.9")

    assert response.status_code == 200
    assert response["Content-Language"] == "en"


@pytest.mark.django_db
def test_choosing_english_in_the_switcher_wins_over_a_japanese_browser(client):
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/ja/"}, **JA)
    assert response["Location"] == "/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "en"

    page = client.get("/", **JA)

    assert page.status_code == 200
    assert page["Content-Language"] == "en"


@pytest.mark.django_db
def test_the_admin_header_is_the_museums_in_either_language(client):
    client.force_login(User.objects.create_superuser("kuniyoshi", password="x"))

    english = client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    japanese = client.get("/admin/", **JA).content.decode()

    assert "Django administration" not in english
    assert "AI Art Gallery · back office" in english
    assert "AIアート美術館 · 管理室" in japanese
