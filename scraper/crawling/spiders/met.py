"""The Met: /public/collection/v1/search in European Paintings, then one
/objects/{id} request per result. The search cannot filter by licence, so
every object's ``isPublicDomain`` decides. The Met blocks quick clients:
this spider runs slowly and retries 403 with backoff.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urlencode

from scrapy.http import Request, TextResponse

from scraper.crawling.spiders.collection import CollectionSpider
from scraper.records import record_id

EUROPEAN_PAINTINGS = 11


class MetSpider(CollectionSpider):
    name = "met"
    source = "met"
    custom_settings = {"RETRY_HTTP_CODES": [403, 429, 500, 502, 503, 504, 522, 524, 408]}

    def search_url(self, query: str) -> str:
        params = {"q": query, "hasImages": "true", "departmentId": EUROPEAN_PAINTINGS}
        return f"{self.base_url}/public/collection/v1/search?{urlencode(params)}"

    def object_url(self, object_id: str) -> str:
        return f"{self.base_url}/public/collection/v1/objects/{object_id}"

    def search_requests(self, query: str) -> Iterable[Request]:
        yield self.api_request(self.search_url(query), self.parse_search)

    def parse_search(self, response: TextResponse) -> Iterator[Request]:
        # The search answers every matching id at once: paging is fetching them all.
        for object_id in response.json().get("objectIDs") or []:
            if self.stop_reason:
                return
            if str(object_id) not in self.seen:
                yield self.api_request(
                    self.object_url(str(object_id)), self.parse_object, object_id=str(object_id)
                )

    def parse_object(self, response: TextResponse) -> Iterator[dict[str, Any]]:
        record = response.json()
        requested = response.meta["object_id"]
        if not isinstance(record, dict):
            self.skip("bad_record", f"met: /objects/{requested} answered {record!r:.80}, not an object")
            return
        # The id we asked for is the record's identity: an answer naming
        # another object must not be stored as that one (and so hide it).
        answered = record_id(record.get("objectID"))
        if answered != requested:
            self.skip("id_mismatch", f"met: /objects/{requested} answered object {answered or '(none)'}")
            return
        source_id = self.first_sighting(requested)
        if source_id is None:
            return
        page_url = record.get("objectURL") or f"https://www.metmuseum.org/art/collection/search/{source_id}"
        if record.get("isPublicDomain") is not True:
            self.skip("not_public_domain", page_url)
            return
        # primaryImageSmall is the web-large rendition, the size the other
        # sources give; the original can be tens of megabytes.
        image_url = record.get("primaryImageSmall") or record.get("primaryImage")
        if not image_url:
            self.skip("no_image", page_url)
            return
        item = self.collect(
            source_id=source_id,
            image_url=image_url,
            page_url=page_url,
            title=record.get("title") or "",
            artist=record.get("artistDisplayName") or "",
            date=record.get("objectDate") or "",
        )
        if item is not None:
            yield item
