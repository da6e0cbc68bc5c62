"""The shape of one crawled record, checked before anything is downloaded or stored.

Museum APIs are untrusted input: a title can arrive as an object, an artist
as a list, an id can be missing, and a page URL can be ``javascript:...``.
``clean_record`` turns an item into plain, bounded strings or refuses it with
a reason that the crawl counts (``skipped:bad_record`` and so on), so the
ingest never fails half-way with files already in storage.

Pure Python: no Django, so spiders, the ingest and templates share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

# Stored lengths (the model's max_length): longer text is cut, not refused.
TEXT_FIELDS = {"title": 500, "artist": 300, "date": 100, "licence": 100}
MAX_ID_LENGTH = 200
MAX_URL_LENGTH = 2000
URL_SCHEMES = ("http", "https")


class RecordRejected(Exception):
    """The record cannot be stored. ``reason`` is the short code counted on
    the crawl job; ``detail`` names the field and what was wrong."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class Record:
    source: str
    source_id: str
    genre: str
    image_url: str
    page_url: str
    title: str
    artist: str
    date: str
    licence: str
    is_demo: bool


def record_id(value: Any) -> str:
    """A record's id as text, or "" when it is missing or not a plain
    string/number (``str()`` of an object would invent an id)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        return ""
    text = str(value).strip()
    return "" if "\x00" in text or len(text) > MAX_ID_LENGTH else text


def web_url(value: Any) -> str:
    """``value`` when it is an absolute http(s) URL with a host, else "".

    Used before a URL is stored and again before one is rendered as a link,
    so rows stored before this check never become a ``javascript:`` link.
    """
    if not isinstance(value, str) or len(value) > MAX_URL_LENGTH:
        return ""
    text = value.strip()
    if any(ord(ch) < 0x21 for ch in text):  # spaces, tabs, newlines, NUL: not in a real URL
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in URL_SCHEMES or not parts.hostname:
        return ""
    return text


def clean_record(item: dict[str, Any]) -> Record:
    """The record's fields as bounded plain text; RecordRejected when its shape is wrong."""
    if not isinstance(item, dict):
        raise RecordRejected("bad_record", f"a record must be an object, not {type(item).__name__}")
    source_id = record_id(item.get("source_id"))
    if not source_id:
        raise RecordRejected("no_id", f"the record has no usable id ({item.get('source_id')!r:.80})")
    label = f"{item.get('source', '?')}:{source_id}"

    image_url = web_url(item.get("image_url"))
    if not image_url:
        raise RecordRejected(
            "bad_url", f"{label}: image_url {item.get('image_url')!r:.120} is not an http(s) URL"
        )
    raw_page_url = item.get("page_url")
    page_url = web_url(raw_page_url)
    if raw_page_url not in (None, "") and not page_url:
        raise RecordRejected("bad_url", f"{label}: page_url {raw_page_url!r:.120} is not an http(s) URL")

    texts = {}
    for name, length in TEXT_FIELDS.items():
        value = item.get(name)
        if value is None:
            value = ""
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)  # e.g. a year given as a number
        elif not isinstance(value, str):
            raise RecordRejected(
                "bad_record", f"{label}: {name} is {type(value).__name__} {value!r:.80}, expected text"
            )
        # PostgreSQL text cannot hold NUL; nothing readable is lost by dropping it.
        texts[name] = value.replace("\x00", "").strip()[:length]

    return Record(
        source=str(item.get("source") or ""),
        source_id=source_id,
        genre=str(item.get("genre") or ""),
        image_url=image_url,
        page_url=page_url,
        is_demo=item.get("is_demo") is True,
        **texts,
    )
