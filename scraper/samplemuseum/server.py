"""The sample museum: the painter's collection served in the shape of the Art Institute of Chicago API.

The offline demo crawls this server with the real AIC spider, so everything after the
HTTP response (pipeline, ingest, curation) is the real thing. Only what the spiders and
a visitor's browser use is served: artwork search with pagination and `fields`,
artwork JSON, IIIF images rendered on demand, artwork pages and robots.txt.
Every work is labelled synthetic.
"""

from __future__ import annotations

import functools
import html
import io
import json
import math
import re
import threading
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlencode, urlsplit

import numpy as np

from scraper.samplemuseum.painter import GENRES, MAX_SIZE, MIN_SIZE, paint

ARTIST = "Sample Museum (synthetic)"
MAX_LIMIT = 100  # the AIC API refuses bigger pages too
DEFAULT_LIMIT = 12
ALL_FIELDS = (
    "id",
    "title",
    "image_id",
    "artist_title",
    "date_display",
    "classification_titles",
    "subject_titles",
    "is_public_domain",
)

# Words a search may use for each genre; the gallery's seeded rooms search for
# "portrait", "flowers", "still life flowers", "landscape", "cityscape" and "city view".
SEARCH_WORDS: dict[str, frozenset[str]] = {
    "portrait": frozenset({"portrait", "portraits", "face", "faces", "figure", "sitter"}),
    "flower-still-life": frozenset({"flower", "flowers", "still", "bouquet", "vase", "floral"}),
    "landscape": frozenset({"landscape", "landscapes", "hills", "lake", "river", "countryside"}),
    "cityscape": frozenset({"cityscape", "cityscapes", "city", "street", "skyline", "town"}),
}
SUBJECTS = {
    "portrait": ["portraits", "people"],
    "flower-still-life": ["flowers", "still lifes"],
    "landscape": ["landscapes", "nature"],
    "cityscape": ["cityscapes", "architecture"],
}
TITLE_PARTS = {
    "portrait": (
        ["Portrait of a", "Study of a", "Head of a", "Likeness of a"],
        ["Young Woman", "Gentleman", "Lady", "Merchant", "Girl", "Scholar", "Musician", "Widow"],
        ["", " in Blue", " with a Hat", " in Red", " by a Window", " in Black"],
    ),
    "flower-still-life": (
        ["Vase of", "Still Life with", "Bouquet of", "Jug of"],
        ["Roses", "Peonies", "Tulips", "Anemones", "Summer Flowers", "Poppies", "Dahlias", "Lilies"],
        ["", " on a Table", " and Fallen Petals", " at Dusk", " in a Blue Vase"],
    ),
    "landscape": (
        ["View of", "Evening at", "Morning near", "Hills above", "Meadow by"],
        ["the River", "the Lake", "a Valley", "the Old Mill", "the Marshes", "the Ridge"],
        ["", " in Summer", " after Rain", " at Sunset", " with Trees"],
    ),
    "cityscape": (
        ["Street in", "Night over", "Evening in", "Rooftops of", "Boulevard in"],
        ["the Old Town", "the Harbour City", "the Capital", "the Lower Quarter", "the Market District"],
        ["", " with Lamps", " at Dusk", " in Winter", " after Rain"],
    ),
}
IIIF_PATH = re.compile(r"^/iiif/2/(?P<image_id>[0-9a-f-]{36})/full/(?P<size>[^/]+)/0/default\.jpg$")


@dataclass(frozen=True)
class SampleArtwork:
    id: int
    genre: str
    seed: int
    image_id: str
    title: str
    date_display: str

    def record(self) -> dict:
        return {
            "id": self.id,
            "title": self.title,
            "image_id": self.image_id,
            "artist_title": ARTIST,
            "date_display": self.date_display,
            "classification_titles": ["painting", "oil on canvas", "synthetic"],
            "subject_titles": SUBJECTS[self.genre],
            "is_public_domain": True,
        }


class SampleCollection:
    """`per_genre` works of each genre; work n of a genre is painted with seed n."""

    def __init__(self, per_genre: int = 60, image_size: int = 256) -> None:
        if per_genre < 1:
            raise ValueError(f"per_genre={per_genre}: the sample museum needs at least 1 work per genre.")
        if not MIN_SIZE <= image_size <= MAX_SIZE:
            raise ValueError(f"image_size={image_size}: choose {MIN_SIZE}..{MAX_SIZE} pixels.")
        self.per_genre = per_genre
        self.image_size = image_size
        self.works: list[SampleArtwork] = []
        for g, genre in enumerate(GENRES):
            for n in range(per_genre):
                self.works.append(self._make(g, genre, n))
        self.by_id = {w.id: w for w in self.works}
        self.by_image_id = {w.image_id: w for w in self.works}
        # Rendering is the slow part; the cache holds recent JPEGs keyed by (image_id, width, height).
        self.jpeg = functools.lru_cache(maxsize=512)(self._render_jpeg)

    @staticmethod
    def _make(g: int, genre: str, n: int) -> SampleArtwork:
        rng = np.random.default_rng([g, n, 7])
        first, middle, last = TITLE_PARTS[genre]
        title = f"{rng.choice(first)} {rng.choice(middle)}{rng.choice(last)}"
        year = int(rng.integers(1600, 1900))
        date = f"c. {year}" if rng.random() < 0.4 else str(year)
        return SampleArtwork(
            id=(g + 1) * 1_000_000 + n + 1,
            genre=genre,
            seed=n,
            image_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"samplemuseum/{genre}/{n}")),
            title=title,
            date_display=date,
        )

    def search(self, q: str) -> list[SampleArtwork]:
        """Works whose genre matches any word of `q`; an empty query matches everything."""
        words = set(re.findall(r"[a-z]+", q.lower()))
        if not words:
            return self.works
        genres = {genre for genre, vocab in SEARCH_WORDS.items() if words & vocab}
        return [w for w in self.works if w.genre in genres]

    def image_size_for(self, size: str) -> tuple[int, int]:
        """Parse a IIIF 2 size ("full", "max", "w,", ",h", "w,h", "!w,h", "pct:n").

        Paintings are square and `image_size` wide; requests above that are served at
        `image_size`, as a IIIF server with a maximum width does.
        """
        native = self.image_size
        if size in ("full", "max"):
            return native, native
        if size.startswith("pct:"):
            pct = float(size[4:])
            if not 0 < pct <= 100:
                raise ValueError(f"IIIF size {size!r}: the percentage must be in (0, 100].")
            side = max(1, round(native * pct / 100))
            return side, side
        best_fit = size.startswith("!")
        w_text, comma, h_text = size.lstrip("!").partition(",")
        if not comma or not (w_text or h_text) or not all(t.isdigit() for t in (w_text, h_text) if t):
            raise ValueError(f"IIIF size {size!r} is not one of full, max, w, ,h, w,h, !w,h or pct:n.")
        w = min(int(w_text), native) if w_text else None
        h = min(int(h_text), native) if h_text else None
        if (w is not None and w < 1) or (h is not None and h < 1):
            raise ValueError(f"IIIF size {size!r}: width and height must be at least 1.")
        if w is None:
            return h, h
        if h is None or best_fit:
            side = w if h is None else min(w, h)
            return side, side
        return w, h

    def _render_jpeg(self, image_id: str, width: int, height: int) -> bytes:
        work = self.by_image_id[image_id]
        image = paint(work.genre, work.seed, self.image_size)
        if (width, height) != image.size:
            image = image.resize((width, height), resample=3)  # bicubic
        buffer = io.BytesIO()
        image.save(buffer, "JPEG", quality=90)
        return buffer.getvalue()


class SampleMuseumHandler(BaseHTTPRequestHandler):
    server: SampleMuseumServer
    server_version = "SampleMuseum/1.0"

    def log_message(self, format: str, *args) -> None:
        if self.server.verbose:
            super().log_message(format, *args)

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        path = parts.path
        params = dict(parse_qsl(parts.query, keep_blank_values=True))
        collection = self.server.collection
        if path == "/robots.txt":
            self._send(HTTPStatus.OK, "text/plain; charset=utf-8", b"User-agent: *\nAllow: /\n")
        elif path == "/api/v1/artworks/search":
            self._search(params)
        elif m := re.fullmatch(r"/api/v1/artworks/(\d+)", path):
            work = collection.by_id.get(int(m.group(1)))
            if work is None:
                self._error(HTTPStatus.NOT_FOUND, f"No artwork with id {m.group(1)} in the sample museum.")
            else:
                self._json(
                    {"data": self._fields(work.record(), params.get("fields")), "config": self._config()}
                )
        elif m := IIIF_PATH.match(path):
            self._image(m.group("image_id"), m.group("size"))
        elif m := re.fullmatch(r"/artworks/(\d+)", path):
            self._page(collection.by_id.get(int(m.group(1))), m.group(1))
        elif path == "/":
            body = (
                "<!doctype html><title>Sample Museum</title><h1>Sample Museum</h1>"
                "<p>A synthetic collection of procedurally painted works, served in the shape of the "
                "Art Institute of Chicago API for the offline demo.</p>"
                '<p><a href="/api/v1/artworks/search?q=portrait">Search portraits</a></p>'
            )
            self._send(HTTPStatus.OK, "text/html; charset=utf-8", body.encode())
        else:
            self._error(HTTPStatus.NOT_FOUND, f"Nothing at {path} in the sample museum.")

    def _config(self) -> dict:
        base = self.server.base_url
        return {"iiif_url": f"{base}/iiif/2", "website_url": base}

    @staticmethod
    def _fields(record: dict, fields: str | None) -> dict:
        if not fields:
            return record
        wanted = [f.strip() for f in fields.split(",") if f.strip()]
        return {key: record[key] for key in wanted if key in record}

    def _search(self, params: dict[str, str]) -> None:
        try:
            limit = int(params.get("limit", DEFAULT_LIMIT))
            page = int(params.get("page", 1))
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, "limit and page must be whole numbers.")
            return
        if not 1 <= limit <= MAX_LIMIT or page < 1:
            self._error(HTTPStatus.BAD_REQUEST, f"Use 1 <= limit <= {MAX_LIMIT} and page >= 1.")
            return
        works = self.server.collection.search(params.get("q", ""))
        if params.get("query[term][is_public_domain]", "true").lower() == "false":
            works = []  # everything here is public domain
        total = len(works)
        total_pages = math.ceil(total / limit)
        offset = (page - 1) * limit
        next_url = None
        if page < total_pages:
            next_params = dict(params, page=str(page + 1))
            next_url = f"{self.server.base_url}/api/v1/artworks/search?{urlencode(next_params)}"
        body = {
            "pagination": {
                "total": total,
                "limit": limit,
                "offset": offset,
                "total_pages": total_pages,
                "current_page": page,
                "next_url": next_url,
            },
            "data": [self._fields(w.record(), params.get("fields")) for w in works[offset : offset + limit]],
            "config": self._config(),
        }
        self._json(body)

    def _image(self, image_id: str, size: str) -> None:
        collection = self.server.collection
        if image_id not in collection.by_image_id:
            self._error(HTTPStatus.NOT_FOUND, f"No image {image_id} in the sample museum.")
            return
        try:
            width, height = collection.image_size_for(size)
        except ValueError as exc:
            self._error(HTTPStatus.BAD_REQUEST, str(exc))
            return
        self._send(HTTPStatus.OK, "image/jpeg", collection.jpeg(image_id, width, height))

    def _page(self, work: SampleArtwork | None, raw_id: str) -> None:
        if work is None:
            self._error(HTTPStatus.NOT_FOUND, f"No artwork with id {raw_id} in the sample museum.")
            return
        iiif = self._config()["iiif_url"]
        title = html.escape(work.title)
        body = (
            f"<!doctype html><title>{title}</title><h1>{title}</h1>"
            f"<p>{html.escape(ARTIST)}, {html.escape(work.date_display)}. "
            f"A synthetic {html.escape(work.genre.replace('-', ' '))} painted by the sample museum's "
            f"procedural painter (seed {work.seed}).</p>"
            f'<img src="{iiif}/{work.image_id}/full/843,/0/default.jpg" alt="{title}">'
        )
        self._send(HTTPStatus.OK, "text/html; charset=utf-8", body.encode())

    def _json(self, body: dict, status: HTTPStatus = HTTPStatus.OK) -> None:
        self._send(status, "application/json", json.dumps(body).encode())

    def _error(self, status: HTTPStatus, detail: str) -> None:
        self._json({"status": int(status), "error": status.phrase, "detail": detail}, status)

    def _send(self, status: HTTPStatus, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class SampleMuseumServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, collection: SampleCollection, verbose: bool = False) -> None:
        super().__init__((host, port), SampleMuseumHandler)
        self.collection = collection
        self.verbose = verbose
        bound_host, bound_port = self.server_address[:2]
        shown = f"[{bound_host}]" if ":" in str(bound_host) else bound_host
        self.base_url = f"http://{shown}:{bound_port}"
        self.thread: threading.Thread | None = None

    def stop(self) -> None:
        """Stop serving, close the socket and wait for the background thread."""
        self.shutdown()
        self.server_close()
        if self.thread is not None:
            self.thread.join()


def start_sample_museum(
    host: str = "127.0.0.1",
    port: int = 0,
    per_genre: int = 60,
    image_size: int = 256,
    verbose: bool = False,
) -> tuple[SampleMuseumServer, str]:
    """Serve the sample museum from a background thread; call `server.stop()` when done."""
    server = SampleMuseumServer(host, port, SampleCollection(per_genre, image_size), verbose)
    server.thread = threading.Thread(target=server.serve_forever, name="sample-museum", daemon=True)
    server.thread.start()
    return server, server.base_url
