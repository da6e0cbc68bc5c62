"""A visitor's walk in headless Chromium: home → room → artwork → mixing exhibit,
with no console errors, no broken images, a language switch, and a phone-width
layout that never scrolls sideways."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from .factories import genre, make_artwork, make_exhibit

# Playwright's sync API runs an event loop in this thread; Django would refuse DB access.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium`.")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


@pytest.fixture
def museum(db):
    now = timezone.now()
    for slug in ("portrait", "landscape", "flower-still-life", "cityscape"):
        room = genre(slug)
        for seed in range(6 if slug == "portrait" else 2):
            make_artwork(room, seed=seed, size=256, created=now - timedelta(minutes=seed))
    return {"exhibit": make_exhibit(genre("portrait"), rows=3, cols=4, size=64)}


class Visit:
    """A page plus everything that went wrong in it."""

    def __init__(self, page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url
        self.errors: list[str] = []
        page.on(
            "console", lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None
        )
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on(
            "response",
            lambda r: self.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None,
        )

    def load_every_image(self) -> None:
        """Scroll through the page so lazy images load, then wait for all of them."""
        page = self.page
        height = page.evaluate("document.documentElement.scrollHeight")
        step = page.evaluate("innerHeight")
        for y in range(0, height + step, step):
            page.evaluate(f"window.scrollTo(0, {y})")
            page.wait_for_timeout(50)
        page.wait_for_function("Array.from(document.images).every(img => img.complete)")
        page.evaluate("window.scrollTo(0, 0)")

    def check(self, name: str) -> None:
        self.load_every_image()
        broken = self.page.evaluate(
            "Array.from(document.images).filter(img => !(img.naturalWidth > 0)).map(img => img.currentSrc || img.src)"
        )
        assert broken == [], f"broken images on {self.page.url}: {broken}"
        assert self.errors == [], f"errors on {self.page.url}: {self.errors}"
        # The museum's stylesheet is applied (a muted wall, not a white debug page).
        assert self.page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(235, 230, 221)"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)

    def no_horizontal_overflow(self) -> None:
        width = self.page.evaluate("document.documentElement.scrollWidth")
        inner = self.page.evaluate("innerWidth")
        assert width <= inner, f"{self.page.url} is {width}px wide at a {inner}px viewport"


def test_visitor_walks_the_museum(browser, live_server, museum):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    visit = Visit(page, live_server.url)

    page.goto(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "AI Art Gallery"
    assert page.locator(".room-card").count() == 4
    visit.check("desktop-home")

    page.get_by_role("link", name="Portraits").first.click()
    page.wait_for_url("**/rooms/portrait/")
    assert page.locator(".wall__item").count() == 6
    assert page.locator(".wall__item img[loading=lazy]").count() == 2
    visit.check("desktop-room")

    page.locator(".wall__item a").nth(1).click()
    page.wait_for_url("**/artworks/*/")
    assert page.locator(".provenance").inner_text().count("Seed") == 1
    visit.check("desktop-artwork")
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
    visit.check("desktop-exhibit")

    # Switch to Japanese with the header's form, then back.
    page.get_by_role("button", name="日本語").click()
    page.wait_for_url(f"**/ja/exhibits/{museum['exhibit'].pk}/")
    assert page.locator("html").get_attribute("lang") == "ja"
    assert page.locator(".site-name").inner_text() == "AIアート美術館"
    assert "粗い" in page.locator("table.mixing").inner_text()
    visit.check("desktop-exhibit-ja")
    page.get_by_role("link", name="展示室", exact=True).first.click()
    page.wait_for_url("**/ja/")
    assert "肖像画" in page.locator(".rooms").inner_text()
    visit.check("desktop-home-ja")
    page.get_by_role("button", name="English").click()
    page.wait_for_url(live_server.url + "/")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator(".site-name").inner_text() == "AI Art Gallery"
    page.close()


def test_phone_width_never_scrolls_sideways(browser, live_server, museum):
    page = browser.new_page(viewport={"width": 375, "height": 812}, device_scale_factor=2)
    visit = Visit(page, live_server.url)
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
        visit.check(f"phone-{name}")
        visit.no_horizontal_overflow()
    page.close()
