"""Cleveland Museum of Art: /api/artworks/, CC0 paintings with images.

The query asks for ``cc0=1&type=Painting&has_image=1``; every record's
``share_license_status`` is checked again. The ``web`` rendition is used:
``full`` can be a 60 MB TIFF.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Request, TextResponse

from scraper.crawling.spiders.collection import CollectionSpider

PAGE_SIZE = 100


class CmaSpider(CollectionSpider):
    name = "cma"
    source = "cma"
    licence = "CC0"

    def search_url(self, query: str, skip: int) -> str:
        params = {"q": query, "type": "Painting", "cc0": 1, "has_image": 1, "limit": PAGE_SIZE, "skip": skip}
        return f"{self.base_url}/api/artworks/?{urlencode(params)}"

    def search_requests(self, query: str) -> Iterable[Request]:
        yield self.api_request(self.search_url(query, 0), self.parse_search, query=query, skip=0)

    def parse_search(self, response: TextResponse) -> Iterator[dict[str, Any] | Request]:
        payload = response.json()
        records = payload.get("data") or []
        for record in records:
            item = self.item_for(record)
            if item is not None:
                yield item
        total = int((payload.get("info") or {}).get("total") or 0)
        next_skip = int(response.meta["skip"]) + len(records)
        if records and next_skip < total and not self.stop_reason:
            query = response.meta["query"]
            yield self.api_request(
                self.search_url(query, next_skip), self.parse_search, query=query, skip=next_skip
            )

    def item_for(self, record: dict[str, Any]) -> dict[str, Any] | None:
        if not isinstance(record, dict):
            self.skip("bad_record", f"cma: a search result that is not an object ({record!r:.80})")
            return None
        source_id = self.first_sighting(record.get("id"))
        if source_id is None:
            return None
        page_url = (
            record.get("url") or f"https://clevelandart.org/art/{record.get('accession_number', source_id)}"
        )
        if record.get("share_license_status") != "CC0":
            self.skip("not_public_domain", f"{page_url} (licence {record.get('share_license_status')!r})")
            return None
        web = ((record.get("images") or {}).get("web")) or {}
        if not web.get("url"):
            self.skip("no_image", page_url)
            return None
        if record.get("type") and record["type"] != "Painting":
            self.skip("not_a_painting", f"{page_url} ({record['type']})")
            return None
        creators = record.get("creators") or []
        artist = "; ".join(c.get("description") or "" for c in creators if c.get("description"))
        return self.collect(
            source_id=source_id,
            image_url=web["url"],
            page_url=page_url,
            title=record.get("title") or "",
            artist=artist,
            date=record.get("creation_date") or "",
        )
