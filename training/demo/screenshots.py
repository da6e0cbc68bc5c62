"""Screenshots of every room and of one mixing exhibit per room, in English and
Japanese, from a running museum (``make run``), as docs/demo.md shows them.

    .venv/bin/python -m training.demo.screenshots --base-url http://127.0.0.1:8000 --out docs/demo

Reads the published exhibits from the museum's database (the same settings
``make run`` uses), then opens each page in Debian's Chromium (Playwright) at
1280 x 900 and saves ``<room>-<lang>.jpg`` and ``<room>-exhibit-<lang>.jpg``.
A Japanese page needs a CJK font on the machine (Debian: ``fonts-ipafont-gothic``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

CHROMIUM = "/usr/bin/chromium"
LANGUAGES = (("en", ""), ("ja", "/ja"))


def pages() -> list[tuple[str, str]]:
    """(file stem, path) for every room and its newest published exhibit."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "museum.settings")
    import django

    django.setup()
    from gallery.models import Genre, MixingExhibit

    found = []
    for genre in Genre.objects.order_by("position"):
        found.append((genre.slug, f"/rooms/{genre.slug}/"))
        exhibit = MixingExhibit.objects.filter(genre=genre, published=True).order_by("-created").first()
        if exhibit is not None:
            found.append((f"{genre.slug}-exhibit", f"/exhibits/{exhibit.pk}/"))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--out", type=Path, default=Path("docs/demo"))
    parser.add_argument("--quality", type=int, default=80, help="JPEG quality")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    targets = pages()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        for lang, prefix in LANGUAGES:
            context = browser.new_context(viewport={"width": 1280, "height": 900}, locale=lang)
            page = context.new_page()
            for stem, path in targets:
                page.goto(args.base_url.rstrip("/") + prefix + path, wait_until="networkidle")
                page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
                page.wait_for_function("Array.from(document.images).every(img => img.complete)")
                page.evaluate("window.scrollTo(0, 0)")
                target = args.out / f"{stem}-{lang}.jpg"
                page.screenshot(path=str(target), type="jpeg", quality=args.quality, full_page=True)
                print(target)
            context.close()
        browser.close()


if __name__ == "__main__":
    main()
