"""Art Institute of Chicago: /api/v1/artworks/search, public domain only.

The query asks for public-domain works only, and every record's
``is_public_domain`` is checked again. Images come from the IIIF server the
response's ``config.iiif_url`` names, 843 px wide as AIC recommends.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Request, TextResponse

from scraper.crawling.spiders.collection import CollectionSpider

FIELDS = "id,title,image_id,artist_title,date_display,classification_titles,subject_titles,is_public_domain"
PAGE_SIZE = 100
# AIC's search index answers at most 10,000 results per query.
MAX_RESULTS = 10_000


class AicSpider(CollectionSpider):
    name = "aic"
    source = "aic"

    def search_url(self, query: str, page: int) -> str:
        params = {
            "q": query,
            "query[term][is_public_domain]": "true",
            "fields": FIELDS,
            "limit": PAGE_SIZE,
            "page": page,
        }
        return f"{self.base_url}/api/v1/artworks/search?{urlencode(params)}"

    def search_requests(self, query: str) -> Iterable[Request]:
        yield self.api_request(self.search_url(query, 1), self.parse_search, query=query, page=1)

    def parse_search(self, response: TextResponse) -> Iterator[dict[str, Any] | Request]:
        payload = response.json()
        config = payload.get("config") or {}
        iiif_url = (config.get("iiif_url") or "https://www.artic.edu/iiif/2").rstrip("/")
        website_url = (config.get("website_url") or "https://www.artic.edu").rstrip("/")
        for record in payload.get("data") or []:
            item = self.item_for(record, iiif_url, website_url)
            if item is not None:
                yield item
        pagination = payload.get("pagination") or {}
        page = int(response.meta["page"])
        total_pages = min(int(pagination.get("total_pages") or 0), MAX_RESULTS // PAGE_SIZE)
        if page < total_pages and payload.get("data") and not self.stop_reason:
            query = response.meta["query"]
            yield self.api_request(
                self.search_url(query, page + 1), self.parse_search, query=query, page=page + 1
            )

    def item_for(self, record: dict[str, Any], iiif_url: str, website_url: str) -> dict[str, Any] | None:
        if not isinstance(record, dict):
            self.skip("bad_record", f"aic: a search result that is not an object ({record!r:.80})")
            return None
        source_id = self.first_sighting(record.get("id"))
        if source_id is None:
            return None
        page_url = f"{website_url}/artworks/{source_id}"
        if record.get("is_public_domain") is not True:
            self.skip("not_public_domain", page_url)
            return None
        if not record.get("image_id"):
            self.skip("no_image", page_url)
            return None
        classifications = [str(c).lower() for c in record.get("classification_titles") or []]
        if classifications and not any("painting" in c for c in classifications):
            self.skip("not_a_painting", f"{page_url} ({', '.join(classifications)})")
            return None
        return self.collect(
            source_id=source_id,
            image_url=f"{iiif_url}/{record['image_id']}/full/843,/0/default.jpg",
            page_url=page_url,
            title=record.get("title") or "",
            artist=record.get("artist_title") or "",
            date=record.get("date_display") or "",
        )


class SampleMuseumSpider(AicSpider):
    """The offline sample museum (scraper/samplemuseum/) speaks the AIC API; its
    images are recorded as source "sample", never as the Art Institute's."""

    name = "sample"
    source = "sample"
    licence = "Public domain (synthetic)"
