"""Scrapy settings for one crawl, built from Django's settings.

Politeness first: robots.txt obeyed, an identifying user agent, per-source
delays and concurrency, AutoThrottle, backoff on 429/5xx, a download cap, no
telnet console, no cookies. Safety: only allow-listed hosts, checked again on
every redirect and when host names resolve.
"""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings as django_settings

from scraper.crawling.middlewares import origin

# Where each source serves its images, beside its API host (which comes from
# SCRAPER_BASE_URLS). AIC's IIIF server is www.artic.edu; CMA serves images
# from a CDN; the Met from images.metmuseum.org; Commons from upload.wikimedia.org.
IMAGE_HOSTS: dict[str, frozenset[str]] = {
    "aic": frozenset({"api.artic.edu", "www.artic.edu"}),
    "cma": frozenset({"openaccess-api.clevelandart.org", "openaccess-cdn.clevelandart.org"}),
    "met": frozenset({"collectionapi.metmuseum.org", "images.metmuseum.org"}),
    "wikimedia": frozenset({"commons.wikimedia.org", "upload.wikimedia.org"}),
}

# Sources served from this machine (the offline sample museum): their
# configured origin may be a loopback address. Private ranges never are.
LOOPBACK_SOURCES = frozenset({"sample"})

# Bytes per response (env SCRAPER_DOWNLOAD_MAXSIZE): museum web images are a
# few MB; Scrapy's default of 1 GiB would let one response fill the disk.
DOWNLOAD_MAXSIZE = int(os.environ.get("SCRAPER_DOWNLOAD_MAXSIZE") or 25 * 1024 * 1024)
DOWNLOAD_WARNSIZE = min(10 * 1024 * 1024, DOWNLOAD_MAXSIZE)


def base_url(source: str) -> str:
    """The API base URL of ``source`` without a trailing slash."""
    try:
        return django_settings.SCRAPER_BASE_URLS[source].rstrip("/")
    except KeyError as exc:
        known = ", ".join(sorted(django_settings.SCRAPER_BASE_URLS))
        raise ValueError(f"Unknown crawl source {source!r}: expected one of {known}.") from exc


def allowed_hosts(source: str) -> frozenset[str]:
    """Host names a crawl of ``source`` may fetch: its image hosts plus the
    host of its configured base URL (a test server or a mirror)."""
    host = urlsplit(base_url(source)).hostname or ""
    return IMAGE_HOSTS.get(source, frozenset()) | {host.lower()}


def loopback_origins(source: str) -> list[str]:
    """The ``host:port`` origins a crawl of ``source`` may reach on a loopback
    address without SCRAPER_ALLOW_LOOPBACK: only the sample museum's configured
    origin, for the sample source. Every other source stays public-only."""
    if source not in LOOPBACK_SOURCES:
        return []
    parts = urlsplit(base_url(source))
    return [origin(parts.hostname or "", parts.port, parts.scheme)]


def ingest_threads() -> int:
    """Images checked and stored at a time (env SCRAPER_INGEST_THREADS): two on
    SQLite, which has a single writer (one decodes while the other commits);
    four on PostgreSQL."""
    default = 2 if django_settings.DATABASES["default"]["ENGINE"].endswith("sqlite3") else 4
    value = os.environ.get("SCRAPER_INGEST_THREADS") or str(default)
    if not value.isdigit() or int(value) < 1:
        raise ValueError(f"SCRAPER_INGEST_THREADS={value!r} must be a whole number of at least 1.")
    return int(value)


def scrapy_settings(source: str) -> dict[str, Any]:
    """The Scrapy settings for a crawl of ``source``."""
    limits = django_settings.SCRAPER_RATE_LIMITS[source]
    delay = float(limits["delay"])
    user_agent = django_settings.SCRAPER_USER_AGENT
    return {
        "BOT_NAME": "aag",
        # Django's ORM is synchronous: a plain (non-asyncio) reactor lets the
        # spider and extensions call it from the reactor thread.
        "TWISTED_REACTOR": "twisted.internet.epollreactor.EPollReactor",
        "USER_AGENT": user_agent,
        "DEFAULT_REQUEST_HEADERS": {
            "Accept": "application/json, image/*;q=0.9, */*;q=0.5",
            # AIC asks API clients to identify themselves with this header.
            "AIC-User-Agent": user_agent,
        },
        "ROBOTSTXT_OBEY": True,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "DOWNLOAD_DELAY": delay,
        "DOWNLOAD_DELAY_JITTER": 0,
        "CONCURRENT_REQUESTS": max(8, int(limits["concurrency"])),
        "CONCURRENT_REQUESTS_PER_DOMAIN": int(limits["concurrency"]),
        "AUTOTHROTTLE_ENABLED": bool(django_settings.SCRAPER_AUTOTHROTTLE),
        "AUTOTHROTTLE_START_DELAY": max(delay, 0.5),
        "AUTOTHROTTLE_MAX_DELAY": 60.0,
        "AUTOTHROTTLE_TARGET_CONCURRENCY": 1.0,
        "DOWNLOAD_TIMEOUT": float(django_settings.SCRAPER_DOWNLOAD_TIMEOUT),
        "SCRAPER_REQUEST_DEADLINE": float(django_settings.SCRAPER_REQUEST_DEADLINE),
        "DOWNLOAD_MAXSIZE": DOWNLOAD_MAXSIZE,
        "DOWNLOAD_WARNSIZE": DOWNLOAD_WARNSIZE,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": int(django_settings.SCRAPER_RETRY_TIMES),
        "RETRY_HTTP_CODES": [429, 500, 502, 503, 504, 522, 524, 408],
        "SCRAPER_RETRY_BACKOFF": float(django_settings.SCRAPER_RETRY_BACKOFF),
        "SCRAPER_RETRY_BACKOFF_MAX": 120.0,
        "SCRAPER_ALLOWED_HOSTS": sorted(allowed_hosts(source)),
        "SCRAPER_ALLOW_LOOPBACK": bool(django_settings.SCRAPER_ALLOW_LOOPBACK),
        "SCRAPER_LOOPBACK_ORIGINS": loopback_origins(source),
        "SCRAPER_JOB_POLL_INTERVAL": 1.0,
        "SCRAPER_INGEST_THREADS": ingest_threads(),
        "REDIRECT_MAX_TIMES": 5,
        "METAREFRESH_ENABLED": False,
        "TWISTED_DNS_RESOLVER": "scraper.crawling.middlewares.PublicAddressResolver",
        "DOWNLOADER_MIDDLEWARES": {
            # Before everything else (even robots.txt, which would otherwise
            # fetch /robots.txt from a host we must not contact).
            "scraper.crawling.middlewares.HostSafetyMiddleware": 40,
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            "scraper.crawling.middlewares.RobotsTxtRefusalMiddleware": 100,
            "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
            "scraper.crawling.middlewares.BackoffRetryMiddleware": 550,
            "scraper.crawling.middlewares.ItemLimitMiddleware": 30,
        },
        "ITEM_PIPELINES": {"scraper.crawling.pipelines.IngestPipeline": 300},
        "EXTENSIONS": {
            "scrapy.extensions.telnet.TelnetConsole": None,
            "scraper.crawling.extensions.JobMonitor": 500,
        },
        "LOG_LEVEL": os.environ.get("SCRAPER_LOG_LEVEL", "INFO"),
    }
