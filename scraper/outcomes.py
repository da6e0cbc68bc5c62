"""What staff read for a crawl's counts: ``CrawlJob.counts`` holds internal keys
(``stored``, ``rejected:decompression_bomb``, ``failed:http_503``); these are
their translated labels. A reason without a label here (a new one, or an
exception's class name) still reads as words rather than a key."""

from __future__ import annotations

import re

from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

OUTCOME_LABELS = {
    "stored": _("stored"),
    "duplicate": _("already in the collection"),
    "rejected": _("rejected"),
    "skipped": _("skipped"),
    "refused": _("refused"),
    "failed": _("failed"),
}

REASON_LABELS = {
    # stored
    "near_duplicate": _("resembles an image already stored"),
    # rejected (scraper.imagecheck)
    "too_large": _("file too large"),
    "too_small": _("picture too small"),
    "not_an_image": _("not an image"),
    "format_not_allowed": _("image format not accepted"),
    "decompression_bomb": _("too many pixels to decode safely"),
    "corrupt": _("damaged image file"),
    "truncated": _("incomplete image file"),
    # skipped (spiders)
    "not_public_domain": _("not public domain"),
    "no_image": _("no image"),
    "not_a_painting": _("not a painting"),
    # refused (scraper.crawling.middlewares)
    "private_address": _("private network address"),
    "host_not_allowed": _("host not on the source's list"),
    "scheme_not_allowed": _("address scheme not allowed"),
    "robots_txt": _("disallowed by robots.txt"),
    "ignored": _("dropped by the crawler"),
    # failed (scraper.crawling.failures)
    "timeout": _("timed out"),
    "dns": _("host name not found"),
    "connection_refused": _("connection refused"),
    "connection_lost": _("connection lost"),
    "spider_error": _("error while reading the source's answer"),
}


def reason_label(reason: str) -> str:
    if reason in REASON_LABELS:
        return str(REASON_LABELS[reason])
    status = re.fullmatch(r"http_(\d{3})", reason)
    if status:
        return gettext("HTTP status %(status)s") % {"status": status.group(1)}
    return reason.replace("_", " ")


def outcome_label(key: str) -> str:
    """``stored`` → "stored"; ``rejected:too_small`` → "rejected: picture too small"."""
    outcome, _sep, reason = key.partition(":")
    label = str(OUTCOME_LABELS.get(outcome, outcome.replace("_", " ")))
    return f"{label}: {reason_label(reason)}" if reason else label
