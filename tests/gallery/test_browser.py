"""A visitor's walk in headless Chromium: home → room → artwork → mixing exhibit,
with no console errors, no broken images, a language switch, and a phone-width
layout that never scrolls sideways."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.browser import Watched

from .factories import genre, make_artwork, make_exhibit

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MUSEUM_WALL = "rgb(235, 230, 221)"


@pytest.fixture
def museum(db):
    now = timezone.now()
    for slug in ("portrait", "landscape", "flower-still-life", "cityscape"):
        room = genre(slug)
        for seed in range(6 if slug == "portrait" else 2):
            make_artwork(room, seed=seed, size=256, created=now - timedelta(minutes=seed))
    return {"exhibit": make_exhibit(genre("portrait"), rows=3, cols=4, size=64)}


class Visit(Watched):
    """A watched page that also checks the museum's stylesheet is applied."""

    def check(self, name: str) -> None:
        # A muted wall, not a white debug page.
        assert self.page.evaluate("getComputedStyle(document.body).backgroundColor") == MUSEUM_WALL
        self.assert_clean(name)


def test_visitor_walks_the_museum(browser, live_server, museum):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    visit = Visit(page, live_server.url, "desktop", folder="gallery")

    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "AI Art Gallery"
    assert page.locator(".room-card").count() == 4
    visit.check("home")

    page.get_by_role("link", name="Portraits").first.click()
    page.wait_for_url("**/rooms/portrait/")
    assert page.locator(".wall__item").count() == 6
    assert page.locator(".wall__item img[loading=lazy]").count() == 2
    visit.check("room")

    page.locator(".wall__item a").nth(1).click()
    page.wait_for_url("**/artworks/*/")
    assert page.locator(".provenance").inner_text().count("Seed") == 1
    visit.check("artwork")
    page.locator("a[rel=next]").click()
    page.wait_for_url("**/artworks/*/")
    assert "Study 2" in page.locator("h1").inner_text()

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Mixing exhibits").click()
    page.wait_for_url("**/exhibits/")
    page.locator(".wall__item a").first.click()
    page.wait_for_url(f"**/exhibits/{museum['exhibit'].pk}/")
    assert page.locator("table.mixing thead img").count() == 4
    assert page.locator("table.mixing tbody").count() == 3
    assert page.locator("table.mixing tbody td img").count() == 3 * 3 * 4
    labels = page.locator(".mixing__band-range").all_inner_texts()
    assert labels[0].startswith("layers 0–3") and labels[2].startswith("layers 8–13")
    visit.check("exhibit")

    # Switch to Japanese with the header's form, then back.
    page.get_by_role("button", name="日本語").click()
    page.wait_for_url(f"**/ja/exhibits/{museum['exhibit'].pk}/")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator(".site-name").inner_text() == "AIアート美術館"
    assert "粗い" in page.locator("table.mixing").inner_text()
    visit.check("exhibit-ja")
    page.get_by_role("link", name="展示室", exact=True).first.click()
    page.wait_for_url("**/ja/")
    assert "肖像画" in page.locator(".rooms").inner_text()
    visit.check("home-ja")
    page.get_by_role("button", name="English").click()
    page.wait_for_url(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator(".site-name").inner_text() == "AI Art Gallery"
    page.close()


def test_phone_width_never_scrolls_sideways(browser, live_server, museum):
    page = browser.new_page(viewport={"width": 375, "height": 812}, device_scale_factor=2)
    visit = Visit(page, live_server.url, "phone", folder="gallery")
    artwork = museum["exhibit"].genre.artworks.first()
    for name, path in (
        ("home", "/"),
        ("room", "/rooms/portrait/"),
        ("artwork", f"/artworks/{artwork.pk}/"),
        ("exhibits", "/exhibits/"),
        ("exhibit", f"/exhibits/{museum['exhibit'].pk}/"),
        ("home-ja", "/ja/"),
        ("exhibit-ja", f"/ja/exhibits/{museum['exhibit'].pk}/"),
    ):
        page.goto(live_server.url + path)
        visit.check(name)
    page.close()


def test_artwork_page_shows_the_closest_training_painting_with_source_and_licence(browser, live_server):
    from tests.training.runs_factories import approved_images

    (original,) = approved_images("portrait", 1)
    original.title = "Portrait of a Lady"
    original.artist = "Anonymous"
    original.date_text = "about 1600"
    original.page_url = "https://www.artic.edu/artworks/12345"
    original.save()
    art = make_artwork(
        genre("portrait"), seed=7, size=256, nearest_training_image=original, nearest_training_distance=0.4321
    )

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    visit = Visit(page, live_server.url, "nearest", folder="gallery")
    page.goto(f"{live_server.url}/artworks/{art.pk}/")
    nearest = page.locator(".nearest")
    heading = nearest.locator(".nearest__heading").text_content()  # shown in small capitals
    assert heading == "The closest painting in the collection this model learned from"
    assert "Portrait of a Lady, Anonymous, about 1600" in nearest.inner_text()
    assert "Art Institute of Chicago · licence: CC0" in nearest.inner_text()
    assert "Distance 0.432" in nearest.inner_text()
    link = nearest.get_by_role("link", name="See it at its source")
    assert link.get_attribute("href") == original.page_url
    # Beside the painting, not below it.
    painting, label = page.locator(".artwork__figure").bounding_box(), nearest.bounding_box()
    assert label["x"] > painting["x"] + painting["width"] - 1
    visit.check("artwork-nearest")

    page.goto(f"{live_server.url}/ja/artworks/{art.pk}/")
    assert "このモデルが学んだコレクションで最も近い作品" in page.locator(".nearest").inner_text()
    assert "出典で見る" in page.locator(".nearest").inner_text()
    visit.check("artwork-nearest-ja")

    # A curator's later rejection takes it off the page.
    from scraper.curation import reject_images
    from tests.gallery.factories import make_staff

    reject_images(
        [original.pk], make_staff("curator-of-record", perms=("scraper.review_images",)), "wrong_genre"
    )
    page.goto(f"{live_server.url}/artworks/{art.pk}/")
    assert page.locator(".nearest").count() == 0
    page.close()


def test_small_paintings_are_not_blown_up_to_a_blur(browser, live_server):
    """A 64-px painting hangs at most 3x its pixel width on a wall and 4x on its own page;
    a 640-px painting still fills its place. The frame hugs the painting either way."""
    small_room, large_room = genre("portrait"), genre("landscape")
    small = [make_artwork(small_room, seed=seed, size=64) for seed in range(3)]
    make_artwork(large_room, seed=1, size=640)
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    visit = Visit(page, live_server.url, "crisp", folder="gallery")

    def sizes(selector: str) -> list[dict]:
        return page.evaluate(
            """sel => Array.from(document.querySelectorAll(sel)).map(img => {
                 const frame = img.closest('.frame').getBoundingClientRect();
                 const cell = img.closest('li, figure, .artwork__figure') || img.closest('.frame').parentElement;
                 return {img: img.getBoundingClientRect().width, frame: frame.width,
                         cell: cell.getBoundingClientRect().width};
               })""",
            selector,
        )

    page.goto(live_server.url + "/rooms/portrait/")
    walls = sizes(".wall .frame img")
    assert len(walls) == 3 and all(0 < s["img"] <= 3 * 64 + 0.5 for s in walls), walls
    assert all(s["frame"] < s["img"] + 60 for s in walls), f"the frame does not hug the painting: {walls}"
    visit.check("small-room")
    page.goto(f"{live_server.url}/artworks/{small[0].pk}/")
    (own,) = sizes(".frame--large img")
    assert 3 * 64 < own["img"] <= 4 * 64 + 0.5, own
    page.goto(live_server.url + "/rooms/landscape/")
    (large,) = sizes(".wall .frame img")
    assert large["img"] > 150 and large["frame"] >= large["cell"] - 1, large
    visit.check("large-room")
    page.close()
