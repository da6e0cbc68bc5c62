"""The visitor's journey in headless Chromium: home → every room → a painting →
previous/next → a mixing exhibit → Japanese and back, at desktop and phone
widths, with paintings made the real way (the shipped demo checkpoints,
painted by gallery.generation)."""

from __future__ import annotations

import io

import pytest

from gallery.models import Artwork, Genre, MixingExhibit

from .conftest import open_page

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ARTWORKS_PER_ROOM = 3


@pytest.fixture
def painted_museum(settings, tmp_path):
    """Every room painted from its shipped demo checkpoint, registered as
    ``manage.py demo`` registers it: three artworks and one exhibit per room."""
    from gallery.generation import build_mixing_exhibit, generate_artworks
    from gallery.management.commands.demo import DEMO_CHECKPOINT_DIR, Command, shipped_checkpoint
    from gallery.services import publish_checkpoint
    from tests.training.runs_factories import approved_images

    settings.MEDIA_ROOT = tmp_path / "media"
    settings.TORCH_DEVICE = "cpu"
    register = Command(stdout=io.StringIO())
    checkpoints = []
    for number, genre in enumerate(Genre.objects.order_by("position", "slug")):
        # The room guards compare each painting with the room's approved collection.
        approved_images(genre.slug, 8, first_seed=100 * number)
        path = shipped_checkpoint(DEMO_CHECKPOINT_DIR, genre)
        assert path is not None, f"training/demo has no {genre.slug}-<px>.pt"
        checkpoint = publish_checkpoint(register.register_shipped(genre, path))
        checkpoints.append(checkpoint)
        generate_artworks(checkpoint, ARTWORKS_PER_ROOM, psi=0.7)
        build_mixing_exhibit(checkpoint, rows=2, columns=3)
    return checkpoints


def test_a_visitor_walks_every_room_a_painting_an_exhibit_both_languages_and_a_phone(
    browser, live_server, painted_museum
):
    rooms = list(Genre.objects.order_by("position", "slug"))
    visit = open_page(browser, live_server.url, "visitor")
    page = visit.page

    visit.go("/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator(".room-card").count() == len(rooms) == 4
    for room in rooms:
        card = page.locator(".room-card", has_text=room.display_name)
        assert f"{ARTWORKS_PER_ROOM} paintings" in card.inner_text()
    visit.assert_clean("home")

    for room in rooms:
        visit.go("/")
        page.locator(".room-card a", has_text=room.display_name).click()
        page.wait_for_url(f"**/rooms/{room.slug}/")
        assert page.locator("h1").inner_text() == room.display_name
        assert page.locator(".wall__item").count() == ARTWORKS_PER_ROOM
        visit.assert_clean(f"room-{room.slug}")

    # The last room: open its middle painting, then walk to its neighbours.
    room = rooms[-1]
    newest_first = list(Artwork.objects.filter(genre=room).order_by("-created", "-id"))
    page.locator(".wall__item a").nth(1).click()
    page.wait_for_url(f"**{newest_first[1].get_absolute_url()}")
    provenance = page.locator(".provenance").inner_text()
    assert str(newest_first[1].seed) in provenance and "0.70" in provenance
    visit.assert_clean("artwork")
    page.locator("a[rel=next]").click()
    page.wait_for_url(f"**{newest_first[2].get_absolute_url()}")
    assert page.locator("a[rel=next]").count() == 0  # the oldest painting of the room
    visit.assert_clean("artwork-next")
    page.locator("a[rel=prev]").click()
    page.wait_for_url(f"**{newest_first[1].get_absolute_url()}")
    page.locator("a[rel=prev]").click()
    page.wait_for_url(f"**{newest_first[0].get_absolute_url()}")
    assert page.locator("a[rel=prev]").count() == 0  # the newest
    visit.assert_clean("artwork-prev")

    # A mixing exhibit: A down the side, B across the top, one grid per band.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Mixing exhibits").click()
    page.wait_for_url("**/exhibits/")
    assert page.locator(".wall__item").count() == MixingExhibit.objects.count() == 4
    visit.assert_clean("exhibits")
    page.locator(".wall__item a").first.click()
    page.wait_for_url("**/exhibits/*/")
    assert page.locator("table.mixing thead img").count() == 3  # sources B
    assert page.locator("table.mixing tbody").count() == 3  # coarse, middle, fine
    assert page.locator("table.mixing tbody td img").count() == 3 * 2 * 3
    # A 64 px model's fine band paints at one resolution: "64²", not "64²–64²".
    assert page.locator(".mixing__band--fine .mixing__band-range").inner_text() == "layers 8–9 · 64²"
    visit.assert_clean("exhibit")
    exhibit_path = page.url.removeprefix(live_server.url)

    # Japanese with the header's switch, then back to English.
    page.get_by_role("button", name="日本語").click()
    page.wait_for_url(f"**/ja{exhibit_path}")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator(".site-name").inner_text() == "AIアート美術館"
    visit.assert_clean("exhibit-ja")
    page.get_by_role("link", name="展示室", exact=True).first.click()
    page.wait_for_url("**/ja/")
    assert "肖像画" in page.locator(".rooms").inner_text()
    visit.assert_clean("home-ja")
    page.get_by_role("button", name="English").click()
    page.wait_for_url(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator(".site-name").inner_text() == "AI Art Gallery"

    # The same pages on a phone: every check above ran at 1280 px, these at 375 px.
    page.set_viewport_size({"width": 375, "height": 812})
    room = Genre.objects.get(slug="flower-still-life")
    artwork = Artwork.objects.filter(genre=room).first()
    exhibit = MixingExhibit.objects.filter(genre=room).get()
    for name, path in (
        ("home", "/"),
        ("room", room.get_absolute_url()),
        ("artwork", artwork.get_absolute_url()),
        ("exhibits", "/exhibits/"),
        ("exhibit", exhibit.get_absolute_url()),
        ("home-ja", "/ja/"),
        ("room-ja", f"/ja{room.get_absolute_url()}"),
        ("exhibit-ja", f"/ja{exhibit.get_absolute_url()}"),
    ):
        visit.go(path)
        visit.assert_clean(f"phone-{name}")
    page.close()
