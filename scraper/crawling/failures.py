"""Turn a failed request into the (outcome, reason) pair counted on the job."""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadTimeoutError,
    IgnoreRequest,
)
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet import defer
from twisted.internet import error as twisted_errors
from twisted.web._newclient import ResponseFailed, ResponseNeverReceived

from scraper.crawling.middlewares import NotNeeded, RefusedRequest

_NETWORK_REASONS: list[tuple[tuple[type[BaseException], ...], str]] = [
    ((DownloadTimeoutError, twisted_errors.TimeoutError, twisted_errors.TCPTimedOutError), "timeout"),
    ((CannotResolveHostError, twisted_errors.DNSLookupError), "dns"),
    ((DownloadConnectionRefusedError, twisted_errors.ConnectionRefusedError), "connection_refused"),
    ((ResponseNeverReceived, ResponseFailed, twisted_errors.ConnectionLost), "connection_lost"),
]


def classify_failure(exc: BaseException) -> tuple[str, str] | None:
    """The (outcome, reason) to count for ``exc``, or None when it is not an
    outcome at all (a request dropped because the crawl is stopping)."""
    if isinstance(exc, NotNeeded):
        return None
    if isinstance(exc, RefusedRequest):
        return "refused", exc.reason
    if isinstance(exc, HttpError):
        return "failed", f"http_{exc.response.status}"
    if isinstance(exc, DownloadCancelledError | defer.CancelledError):
        # Scrapy cancels a download that announces or passes DOWNLOAD_MAXSIZE.
        return "rejected", "too_large"
    if isinstance(exc, IgnoreRequest):
        return "refused", "ignored"
    for types, reason in _NETWORK_REASONS:
        if isinstance(exc, types):
            return "failed", reason
    return "failed", type(exc).__name__.lower()
