"""Wikimedia Commons: files found by search (or in a ``Category:...`` given
as the query), public domain / CC0 only by each file's LicenseShortName.
Commons asks for an identifying User-Agent and serial requests."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Request, TextResponse
from w3lib.html import remove_tags

from scraper.crawling.spiders.collection import CollectionSpider

PAGE_SIZE = 50
IMAGE_WIDTH = 1024


def is_public_domain(licence: str) -> bool:
    name = licence.strip().lower()
    return name.startswith(("public domain", "pd")) or name == "cc0"


def _meta(extmetadata: dict[str, Any], key: str) -> str:
    return remove_tags(str((extmetadata.get(key) or {}).get("value") or "")).strip()


class WikimediaSpider(CollectionSpider):
    name = "wikimedia"
    source = "wikimedia"

    def query_url(self, query: str, cont: dict[str, str] | None = None) -> str:
        params: dict[str, Any] = {
            "action": "query",
            "format": "json",
            "prop": "imageinfo",
            "iiprop": "url|size|extmetadata",
            "iiurlwidth": IMAGE_WIDTH,
        }
        if query.startswith("Category:"):
            params.update(generator="categorymembers", gcmtitle=query, gcmtype="file", gcmlimit=PAGE_SIZE)
        else:
            params.update(
                generator="search",
                gsrsearch=f"{query} painting filetype:bitmap",
                gsrnamespace=6,
                gsrlimit=PAGE_SIZE,
            )
        params.update(cont or {})
        return f"{self.base_url}/w/api.php?{urlencode(params)}"

    def search_requests(self, query: str) -> Iterable[Request]:
        yield self.api_request(self.query_url(query), self.parse_query, query=query)

    def parse_query(self, response: TextResponse) -> Iterator[dict[str, Any] | Request]:
        payload = response.json()
        pages = (payload.get("query") or {}).get("pages") or {}
        for page in pages.values() if isinstance(pages, dict) else pages:
            item = self.item_for(page)
            if item is not None:
                yield item
        cont = payload.get("continue")
        if cont and not self.stop_reason:
            query = response.meta["query"]
            yield self.api_request(self.query_url(query, cont), self.parse_query, query=query)

    def item_for(self, page: dict[str, Any]) -> dict[str, Any] | None:
        if not isinstance(page, dict):
            self.skip("bad_record", f"wikimedia: a page that is not an object ({page!r:.80})")
            return None
        source_id = self.first_sighting(page.get("pageid"))
        if source_id is None:
            return None
        info = (page.get("imageinfo") or [{}])[0]
        extmetadata = info.get("extmetadata") or {}
        page_url = info.get("descriptionurl") or ""
        licence = _meta(extmetadata, "LicenseShortName")
        if not is_public_domain(licence):
            self.skip("not_public_domain", f"{page_url} (licence {licence!r})")
            return None
        image_url = info.get("thumburl") or info.get("url")
        if not image_url:
            self.skip("no_image", page_url)
            return None
        title = _meta(extmetadata, "ObjectName") or str(page.get("title", "")).removeprefix("File:")
        item = self.collect(
            source_id=source_id,
            image_url=image_url,
            page_url=page_url,
            title=title,
            artist=_meta(extmetadata, "Artist"),
            date=_meta(extmetadata, "DateTimeOriginal"),
        )
        if item is not None:
            item["licence"] = licence
        return item
