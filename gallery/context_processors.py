"""Template context shared by every public page."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest

from .pagecache import cache_get, cache_set

DEMO_CACHE_KEY = "gallery:offline-demo"


def is_offline_demo() -> bool:
    """Whether the rooms come from the offline demo's synthetic collection (the
    demo's images, or any crawl of the sample museum). Kept a minute in the
    cache; computed afresh when the cache is down."""
    from scraper.models import ScrapedImage, Source

    is_demo = cache_get(DEMO_CACHE_KEY)
    if is_demo is None:
        is_demo = ScrapedImage.objects.filter(Q(is_demo=True) | Q(source=Source.SAMPLE)).exists()
        cache_set(DEMO_CACHE_KEY, is_demo, 60)
    return is_demo


def offline_demo(request: HttpRequest) -> dict[str, bool]:
    """Tell visitors when the rooms come from the offline demo, so the museum
    never claims museum paintings it did not use."""
    return {"offline_demo": is_offline_demo()}
