"""Fixtures of the three journeys: a headless Chromium, a page that records
everything that went wrong in it, screenshots, and logging in."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import unquote

import pytest

# Playwright's sync API runs an event loop in this thread; Django would refuse DB access.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots" / "journeys"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PASSWORD = "a-long-journey-password"


@pytest.fixture
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install -y chromium` (or `make test`).")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(autouse=True)
def _english() -> Iterator[None]:
    """Names the test compares with pages (rooms, sources) in English, as the
    browser sees them first, whatever language an earlier test left active."""
    from django.utils import translation

    with translation.override("en"):
        yield


@pytest.fixture(autouse=True)
def _no_checkpoint_files_left(transactional_db) -> Iterator[None]:
    """Checkpoint storage is the data folder's (its storage is bound when the
    models load, so a test cannot move it): remove the checkpoints, sample
    grids and packed datasets a journey wrote there."""
    yield
    from training.models import Checkpoint, Dataset, TrainingSample

    for rows, field in (
        (Checkpoint.objects.exclude(file=""), "file"),
        (TrainingSample.objects.exclude(image=""), "image"),
        (Dataset.objects.exclude(packed_file=""), "packed_file"),
    ):
        for row in rows:
            getattr(row, field).delete(save=False)


class Watched:
    """A browser page plus everything that went wrong in it: console errors,
    uncaught exceptions, failed requests and HTTP errors. ``shot`` saves a
    screenshot under artifacts/screenshots/journeys/<journey>-<n>-<name>.png."""

    def __init__(self, page, base_url: str, journey: str) -> None:
        self.page = page
        self.base_url = base_url
        self.journey = journey
        self.errors: list[str] = []
        self.shots = 0
        page.set_default_timeout(30_000)
        page.on(
            "console", lambda msg: self.errors.append(f"console: {msg.text}") if msg.type == "error" else None
        )
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("requestfailed", lambda req: self.errors.append(f"failed: {req.url} ({req.failure})"))
        page.on(
            "response", lambda r: self.errors.append(f"HTTP {r.status}: {r.url}") if r.status >= 400 else None
        )

    def go(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def shot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = SCREENSHOTS / f"{self.journey}-{self.shots:02d}-{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

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

    def broken_images(self) -> list[str]:
        return self.page.evaluate(
            "Array.from(document.images).filter(img => !(img.naturalWidth > 0))"
            ".map(img => img.currentSrc || img.src)"
        )

    def overflow(self) -> int:
        """How many CSS pixels the page is wider than its viewport (0 = no sideways scrolling)."""
        return self.page.evaluate("document.documentElement.scrollWidth - innerWidth")

    def assert_clean(self, name: str) -> None:
        """Every image loaded, nothing went wrong so far; then a screenshot."""
        self.load_every_image()
        assert self.broken_images() == [], f"broken images on {self.page.url}"
        assert self.errors == [], f"errors on {self.page.url}: {self.errors}"
        assert self.overflow() <= 0, f"{self.page.url} scrolls sideways by {self.overflow()}px"
        self.shot(name)


def open_page(browser, base_url: str, journey: str, width: int = 1280, height: int = 900) -> Watched:
    return Watched(browser.new_page(viewport={"width": width, "height": height}), base_url, journey)


def log_in(watched: Watched, username: str, next_path: str = "/admin/") -> None:
    page = watched.page
    watched.go(f"/admin/login/?next={next_path}")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{unquote(next_path)}")


def user_in_group(username: str, group: str):
    """An active staff user (may log in to the admin) in ``group`` and nothing else."""
    from django.contrib.auth.models import Group, User

    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user
