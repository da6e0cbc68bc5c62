"""A fake museum for crawl tests: a real HTTP server on 127.0.0.1 that answers
in the shapes of the AIC, CMA and Met APIs, serves real image bytes and a
robots.txt, and can be scripted to fail, redirect or hold a request.

Usage (see tests/scraper/test_spiders.py)::

    def test_x(fake_museum, run_crawl):
        fake_museum.add_aic("1", painting_bytes(1))
        job = make_job(source="aic")
        assert run_crawl(job) == 0
        assert fake_museum.requested("/iiif/2/1/full/843,/0/default.jpg") == 1
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

AIC_IMAGE_PATH = "/iiif/2/{image_id}/full/843,/0/default.jpg"


@dataclass
class Reply:
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    trickle: float = 0.0  # seconds between bytes of the body: a slow server


@dataclass
class Seen:
    """One request the server received."""

    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # names in lower case
    at: float  # time.monotonic()


class FakeMuseum:
    """State of the fake museum; tests add records, images and scripts."""

    def __init__(self, page_size: int = 2) -> None:
        self.page_size = page_size
        self.base_url = ""  # set once the server listens
        self.robots_txt = "User-agent: *\nAllow: /\n"
        self.aic_records: list[dict[str, Any]] = []
        self.cma_records: list[dict[str, Any]] = []
        self.met_objects: dict[str, dict[str, Any]] = {}
        self.wikimedia_pages: list[dict[str, Any]] = []
        self.files: dict[str, Reply] = {}
        self.scripts: dict[str, list[Reply]] = {}
        self.holds: dict[str, tuple[dict[str, str], threading.Event]] = {}
        self.seen: list[Seen] = []
        self.lock = threading.Lock()

    # -- what tests set up -------------------------------------------------

    def serve(self, path: str, data: bytes, content_type: str = "image/jpeg") -> str:
        """Serve ``data`` at ``path``; returns the full URL."""
        self.files[path] = Reply(200, data, content_type)
        return self.base_url + path

    def script(self, path: str, *replies: Reply) -> None:
        """Answer the next requests for ``path`` with ``replies``, in order, then normally."""
        self.scripts.setdefault(path, []).extend(replies)

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        self.files[path] = Reply(status, b"", "text/plain", {"Location": location})

    def hold(self, path: str, **query: str) -> threading.Event:
        """Keep requests for ``path`` (whose query has these values) waiting
        until the returned event is set."""
        event = threading.Event()
        self.holds[path] = (query, event)
        return event

    def add_aic(
        self,
        image_id: str,
        data: bytes | None,
        content_type: str = "image/jpeg",
        public_domain: bool = True,
        **fields: Any,
    ) -> dict[str, Any]:
        record = {
            "id": int(fields.pop("id", 1000 + len(self.aic_records))),
            "title": f"Painting {image_id}",
            "image_id": image_id,
            "artist_title": "Claude Monet",
            "date_display": "1890",
            "classification_titles": ["painting", "oil on canvas"],
            "subject_titles": ["landscapes"],
            "is_public_domain": public_domain,
            **fields,
        }
        self.aic_records.append(record)
        if data is not None:
            self.serve(AIC_IMAGE_PATH.format(image_id=image_id), data, content_type)
        return record

    def add_cma(self, artwork_id: int, data: bytes, licence: str = "CC0", **fields: Any) -> dict[str, Any]:
        web = f"/cma-images/{artwork_id}/web.jpg"
        full = f"/cma-images/{artwork_id}/full.tif"
        record = {
            "id": artwork_id,
            "accession_number": f"1916.{artwork_id}",
            "share_license_status": licence,
            "type": "Painting",
            "title": f"Flowers {artwork_id}",
            "creators": [{"id": 1, "description": "Jan van Huysum (Dutch, 1682-1749)", "role": "artist"}],
            "creation_date": "c. 1720",
            "url": f"https://clevelandart.org/art/1916.{artwork_id}",
            "images": {
                "web": {
                    "url": self.base_url + web,
                    "width": "900",
                    "height": "1100",
                    "filesize": str(len(data)),
                },
                "full": {"url": self.base_url + full, "width": "9000", "height": "11000"},
            },
            **fields,
        }
        self.cma_records.append(record)
        self.serve(web, data)
        return record

    def add_met(self, object_id: int, data: bytes | None, public_domain: bool = True, **fields: Any) -> dict:
        small = f"/met-images/web-large/{object_id}.jpg"
        original = f"/met-images/original/{object_id}.jpg"
        record = {
            "objectID": object_id,
            "isPublicDomain": public_domain,
            "primaryImage": self.base_url + original,
            "primaryImageSmall": self.base_url + small,
            "department": "European Paintings",
            "objectName": "Painting",
            "classification": "Paintings",
            "title": f"Portrait {object_id}",
            "artistDisplayName": "Johannes Vermeer",
            "objectDate": "ca. 1665",
            "objectURL": f"https://www.metmuseum.org/art/collection/search/{object_id}",
            **fields,
        }
        self.met_objects[str(object_id)] = record
        if data is not None:
            self.serve(small, data)
        return record

    def add_wikimedia(self, pageid: int, data: bytes, licence: str = "Public domain", **fields: Any) -> dict:
        thumb = f"/wm/thumb/{pageid}/1024px-painting.jpg"
        record = {
            "pageid": pageid,
            "ns": 6,
            "title": f"File:Painting {pageid}.jpg",
            "imageinfo": [
                {
                    "url": f"{self.base_url}/wm/full/{pageid}/painting.tif",
                    "thumburl": self.base_url + thumb,
                    "descriptionurl": f"https://commons.wikimedia.org/wiki/File:Painting_{pageid}.jpg",
                    "width": 6000,
                    "height": 4000,
                    "extmetadata": {
                        "LicenseShortName": {"value": licence},
                        "Artist": {
                            "value": '<a href="//commons.wikimedia.org/wiki/Van_Gogh">Vincent van Gogh</a>'
                        },
                        "DateTimeOriginal": {"value": "1889"},
                        "ObjectName": {"value": f"Wheat field {pageid}"},
                    },
                }
            ],
            **fields,
        }
        self.wikimedia_pages.append(record)
        self.serve(thumb, data)
        return record

    # -- what tests check --------------------------------------------------

    def requested(self, path: str) -> int:
        """How many times ``path`` (without query) was requested."""
        with self.lock:
            return sum(1 for seen in self.seen if seen.path == path)

    def requests_for(self, path: str) -> list[Seen]:
        with self.lock:
            return [seen for seen in self.seen if seen.path == path]

    # -- the API shapes ----------------------------------------------------

    def answer(self, path: str, query: dict[str, list[str]]) -> Reply:
        if path == "/robots.txt":
            return Reply(200, self.robots_txt.encode(), "text/plain")
        if path == "/api/v1/artworks/search":
            return self._json(self._aic_search(query))
        if path == "/api/artworks/":
            return self._json(self._cma_search(query))
        if path == "/public/collection/v1/search":
            ids = [int(i) for i in self.met_objects]
            return self._json({"total": len(ids), "objectIDs": ids or None})
        if path.startswith("/public/collection/v1/objects/"):
            record = self.met_objects.get(path.rsplit("/", 1)[-1])
            if record is None:
                return Reply(404, b'{"message": "Not a valid object"}')
            return self._json(record)
        if path == "/w/api.php":
            return self._json(self._wikimedia_query(query))
        if path in self.files:
            return self.files[path]
        return Reply(404, b"not found", "text/plain")

    @staticmethod
    def _json(payload: Any) -> Reply:
        return Reply(200, json.dumps(payload).encode())

    def _aic_search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        # Like the real API, the page size is the server's to cap; this one
        # returns every record whatever the filter, so the spider's own
        # per-record checks are what the tests exercise.
        page = int(query.get("page", ["1"])[0])
        total = len(self.aic_records)
        total_pages = math.ceil(total / self.page_size)
        start = (page - 1) * self.page_size
        data = self.aic_records[start : start + self.page_size]
        fields = (query.get("fields") or [""])[0].split(",")
        data = [{key: value for key, value in record.items() if key in fields} for record in data]
        next_url = f"{self.base_url}/api/v1/artworks/search?page={page + 1}" if page < total_pages else None
        return {
            "pagination": {
                "total": total,
                "limit": self.page_size,
                "offset": start,
                "total_pages": total_pages,
                "current_page": page,
                "next_url": next_url,
            },
            "data": data,
            "info": {"license_text": "CC0 for public-domain works", "version": "1.10"},
            "config": {"iiif_url": f"{self.base_url}/iiif/2", "website_url": self.base_url},
        }

    def _cma_search(self, query: dict[str, list[str]]) -> dict[str, Any]:
        skip = int(query.get("skip", ["0"])[0])
        limit = min(int(query.get("limit", ["100"])[0]), self.page_size)
        return {
            "info": {"total": len(self.cma_records), "parameters": {k: v[0] for k, v in query.items()}},
            "data": self.cma_records[skip : skip + limit],
        }

    def _wikimedia_query(self, query: dict[str, list[str]]) -> dict[str, Any]:
        offset = int(query.get("gsroffset", ["0"])[0])
        pages = self.wikimedia_pages[offset : offset + self.page_size]
        payload: dict[str, Any] = {
            "batchcomplete": "",
            "query": {"pages": {str(p["pageid"]): p for p in pages}},
        }
        if offset + self.page_size < len(self.wikimedia_pages):
            payload["continue"] = {"gsroffset": offset + self.page_size, "continue": "gsroffset||"}
        return payload


def _handler_for(museum: FakeMuseum) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            with museum.lock:
                museum.seen.append(
                    Seen(
                        parts.path,
                        parse_qs(parts.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        time.monotonic(),
                    )
                )
                scripted = museum.scripts.get(parts.path)
                reply = scripted.pop(0) if scripted else None
            query = parse_qs(parts.query)
            if parts.path in museum.holds:
                wanted, event = museum.holds[parts.path]
                if all(query.get(key) == [value] for key, value in wanted.items()):
                    event.wait(timeout=60)
            if reply is None:
                reply = museum.answer(parts.path, query)
            self.send_response(reply.status)
            self.send_header("Content-Type", reply.content_type)
            self.send_header("Content-Length", str(len(reply.body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not reply.trickle:
                self.wfile.write(reply.body)
                return
            try:
                for index in range(len(reply.body)):
                    self.wfile.write(reply.body[index : index + 1])
                    self.wfile.flush()
                    time.sleep(reply.trickle)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up on us, which is what a slow-server test wants

        def log_message(self, format: str, *args: Any) -> None:  # the test log is enough
            pass

    return Handler


@pytest.fixture
def fake_museum() -> Iterator[FakeMuseum]:
    museum = FakeMuseum()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(museum))
    server.daemon_threads = True
    museum.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield museum
    for _, event in museum.holds.values():
        event.set()
    server.shutdown()
    server.server_close()


def crawl_env(museum: FakeMuseum, media_root: Path, **overrides: str) -> dict[str, str]:
    """Environment for a crawl process against ``museum``: the test database,
    the test media folder, every source pointed at the museum, its loopback
    allowed, politeness delays off and fast backoff."""
    from tests.conftest import test_database_url

    env = {
        "DATABASE_URL": test_database_url(),
        "AAG_MEDIA_ROOT": str(media_root),
        "SCRAPER_ALLOW_LOOPBACK": "1",
        "SCRAPER_DOWNLOAD_DELAY": "0",
        "SCRAPER_CONCURRENCY": "4",
        "SCRAPER_AUTOTHROTTLE": "0",
        "SCRAPER_RETRY_BACKOFF": "0.05",
    }
    for source in ("AIC", "CMA", "MET", "WIKIMEDIA"):
        env[f"SCRAPER_{source}_URL"] = museum.base_url
    env.update(overrides)
    return env


@pytest.fixture
def run_crawl(transactional_db, settings, tmp_path, fake_museum) -> Callable[..., int]:
    """Run a CrawlJob's crawl in a real child process against the fake museum;
    keyword arguments override the child's environment. Returns the exit code."""
    import importlib

    from django.apps import apps

    from scraper.crawling.runner import run_crawl_process

    # A transactional test's flush also removes the rooms seeded by migration: seed them again.
    importlib.import_module("gallery.migrations.0002_seed_genres").seed(apps, None)
    settings.MEDIA_ROOT = tmp_path / "media"

    def run(job: Any, **env: str) -> int:
        return run_crawl_process(job.pk, extra_env=crawl_env(fake_museum, settings.MEDIA_ROOT, **env))

    return run


@lru_cache(maxsize=1)
def bomb_png() -> bytes:
    """A small PNG that decodes to 7000×7000 pixels (49 megapixels)."""
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.new("1", (7000, 7000)).save(buffer, "PNG")
    return buffer.getvalue()
