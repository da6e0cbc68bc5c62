"""Template context shared by every public page."""

from __future__ import annotations

from django.core.cache import cache
from django.db.models import Q
from django.http import HttpRequest

DEMO_CACHE_KEY = "gallery:offline-demo"


def offline_demo(request: HttpRequest) -> dict[str, bool]:
    """Tell visitors when the rooms come from the offline demo's synthetic
    collection (the demo's images, or any crawl of the sample museum), so the
    museum never claims museum paintings it did not use."""
    from scraper.models import ScrapedImage, Source

    is_demo = cache.get(DEMO_CACHE_KEY)
    if is_demo is None:
        is_demo = ScrapedImage.objects.filter(Q(is_demo=True) | Q(source=Source.SAMPLE)).exists()
        cache.set(DEMO_CACHE_KEY, is_demo, 60)
    return {"offline_demo": is_demo}
