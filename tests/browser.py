"""What every browser test shares: where Chromium is, and a page that records
everything that went wrong in it (console errors, uncaught exceptions, failed
requests, HTTP errors), checks images and sideways scrolling, and saves
screenshots under artifacts/screenshots/ (CI keeps that folder)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


class Watched:
    """A browser page plus everything that went wrong in it: console errors,
    uncaught exceptions, failed requests and HTTP errors. ``shot`` saves a
    screenshot as artifacts/screenshots/<folder>/<journey>-<n>-<name>.png."""

    def __init__(self, page, base_url: str, journey: str, folder: str = "journeys") -> None:
        self.page = page
        self.base_url = base_url
        self.journey = journey
        self.folder = SCREENSHOTS / folder
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
        self.folder.mkdir(parents=True, exist_ok=True)
        self.shots += 1
        path = self.folder / f"{self.journey}-{self.shots:02d}-{name}.png"
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


def open_page(
    browser, base_url: str, journey: str, width: int = 1280, height: int = 900, folder: str = "journeys"
) -> Watched:
    return Watched(browser.new_page(viewport={"width": width, "height": height}), base_url, journey, folder)
