"""Downloader middlewares that keep crawls safe and polite.

- HostSafetyMiddleware: only allow-listed hosts, and only public addresses
  (every resolved address is checked); a loopback address only for the
  source's own loopback origin (the sample museum) or with the test switch. Redirected requests come back through
  the middleware chain, so every redirect hop is checked again.
- PublicAddressResolver: the same address rule where Twisted resolves host
  names for the connection itself, so a name that changes its answer between
  the check and the connection (DNS rebinding) is still refused.
- RobotsTxtRefusalMiddleware: Scrapy's robots.txt middleware, with refusals
  that carry a reason the pipeline can record.
- BackoffRetryMiddleware: retries 429/5xx with exponential backoff, never
  sooner than the server's Retry-After.
- ItemLimitMiddleware: drops the remaining API requests once the job's item
  limit is reached or the job is being cancelled.
"""

from __future__ import annotations

import email.utils
import ipaddress
import logging
import socket
import time
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.resolver import CachingThreadedResolver
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.response import response_status_message
from twisted.internet.error import DNSLookupError
from twisted.internet.task import deferLater
from twisted.internet.threads import deferToThread

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.crawler import Crawler
    from scrapy.http import Request, Response
    from twisted.internet.base import ReactorBase
    from twisted.internet.defer import Deferred

logger = logging.getLogger(__name__)


class RefusedRequest(IgnoreRequest):
    """A request we chose not to send; ``reason`` becomes the count key."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class NotNeeded(IgnoreRequest):
    """A request dropped because the crawl is stopping (limit or cancel); not an outcome."""


def address_refusal(address: str, allow_loopback: bool) -> str | None:
    """Why ``address`` must not be contacted, or None when it is public.

    Loopback is allowed only when ``allow_loopback`` is set (tests); private,
    link-local (e.g. cloud metadata at 169.254.169.254), multicast, reserved
    and unspecified addresses never are.
    """
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else f"{ip} is a loopback address"
    for kind in ("private", "link_local", "multicast", "reserved", "unspecified"):
        if getattr(ip, f"is_{kind}"):
            return f"{ip} is a {kind.replace('_', '-')} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


DEFAULT_PORTS = {"http": 80, "https": 443}


def origin(host: str, port: int | None, scheme: str = "http") -> str:
    """``host:port`` as loopback origins are compared (port filled in from the scheme)."""
    return f"{host.lower()}:{port or DEFAULT_PORTS.get(scheme, 0)}"


def _resolve(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


class HostSafetyMiddleware:
    """Refuses any request whose host is not allow-listed or resolves to a
    non-public address (checking every address the name resolves to).
    Loopback is allowed everywhere with ``allow_loopback`` (tests), else only
    at ``loopback_origins`` (``host:port``, the sample museum's own server)."""

    def __init__(
        self, allowed_hosts: Sequence[str], allow_loopback: bool, loopback_origins: Sequence[str] = ()
    ) -> None:
        self.allowed_hosts = frozenset(host.lower() for host in allowed_hosts)
        self.allow_loopback = allow_loopback
        self.loopback_origins = frozenset(loopback_origins)
        # host:port -> refusal detail (None = safe); a crawl talks to a handful of hosts.
        self._verdicts: dict[str, str | None] = {}

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> HostSafetyMiddleware:
        return cls(
            crawler.settings.getlist("SCRAPER_ALLOWED_HOSTS"),
            crawler.settings.getbool("SCRAPER_ALLOW_LOOPBACK"),
            crawler.settings.getlist("SCRAPER_LOOPBACK_ORIGINS"),
        )

    async def process_request(self, request: Request) -> None:
        url = urlparse_cached(request)
        via = request.meta.get("redirect_urls")
        hop = f" (redirected from {via[-1]})" if via else ""
        if url.scheme not in ("http", "https"):
            raise RefusedRequest("scheme_not_allowed", f"{request.url}{hop}: only http and https are fetched")
        host = (url.hostname or "").lower()
        where = origin(host, url.port, url.scheme)
        loopback = self.allow_loopback or where in self.loopback_origins
        # An address literal (e.g. a redirect to 169.254.169.254) is judged by
        # its address first: that is the more telling reason.
        literal = _address_literal(host)
        if literal is not None and (refusal := address_refusal(literal, loopback)):
            raise RefusedRequest("private_address", f"{request.url}{hop}: {refusal}")
        if host not in self.allowed_hosts:
            raise RefusedRequest(
                "host_not_allowed",
                f"{request.url}{hop}: {host!r} is not on this source's allow-list "
                f"({', '.join(sorted(self.allowed_hosts))})",
            )
        if where not in self._verdicts:
            self._verdicts[where] = await self._check_name(host, url.port or 0, loopback)
        if (refusal := self._verdicts[where]) is not None:
            raise RefusedRequest("private_address", f"{request.url}{hop}: {refusal}")

    async def _check_name(self, host: str, port: int, loopback: bool) -> str | None:
        if _address_literal(host) is not None:
            return None  # already judged above
        try:
            addresses = await deferToThread(_resolve, host, port)
        except socket.gaierror:
            # Unresolvable: the download fails with its own DNS error, counted as such.
            return None
        for address in addresses:
            if (refusal := address_refusal(address, loopback)) is not None:
                return f"{host} resolves to {refusal}"
        return None


def _address_literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


class PublicAddressResolver(CachingThreadedResolver):
    """Scrapy's resolver, refusing names that resolve to non-public addresses
    at connection time (the middleware's check could be raced by DNS). It sees
    no port: a loopback origin's host name may resolve to loopback here, and
    the middleware has already held the request to that origin's port."""

    allow_loopback = False
    loopback_hosts: frozenset[str] = frozenset()

    @classmethod
    def from_crawler(cls, crawler: Crawler, reactor: ReactorBase) -> PublicAddressResolver:
        resolver = super().from_crawler(crawler, reactor)
        resolver.allow_loopback = crawler.settings.getbool("SCRAPER_ALLOW_LOOPBACK")
        resolver.loopback_hosts = frozenset(
            where.rsplit(":", 1)[0] for where in crawler.settings.getlist("SCRAPER_LOOPBACK_ORIGINS")
        )
        return resolver

    def getHostByName(self, name: str, timeout: Sequence[int] = ()) -> Deferred[str]:
        loopback = self.allow_loopback or name.lower() in self.loopback_hosts

        def check(address: str) -> str:
            refusal = address_refusal(address, loopback)
            if refusal is not None:
                raise DNSLookupError(f"{name} resolves to {refusal}: refused")
            return address

        return super().getHostByName(name, timeout).addCallback(check)


class RobotsTxtRefusalMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt handling; refusals carry the reason "robots_txt"."""

    def process_request_2(self, rp: Any, request: Request) -> None:
        try:
            super().process_request_2(rp, request)
        except IgnoreRequest as exc:
            raise RefusedRequest("robots_txt", f"{request.url}: disallowed by robots.txt") from exc


def retry_after_seconds(response: Response) -> float | None:
    """The server's Retry-After (seconds or an HTTP date) in seconds, if any."""
    value = response.headers.get(b"Retry-After")
    if not value:
        return None
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class BackoffRetryMiddleware(RetryMiddleware):
    """Retries 429 and 5xx after ``base * 2**attempt`` seconds, or after the
    server's Retry-After when that is longer. A Retry-After longer than
    SCRAPER_RETRY_BACKOFF_MAX gives up on the request instead of hammering.

    Every request has a total budget, SCRAPER_REQUEST_DEADLINE seconds from
    its first try: a retry is given only the time left (as its
    ``download_timeout``), and none is made once the budget is spent. So a
    server that trickles bytes costs the deadline, not timeout × tries."""

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.backoff_base = settings.getfloat("SCRAPER_RETRY_BACKOFF", 2.0)
        self.backoff_max = settings.getfloat("SCRAPER_RETRY_BACKOFF_MAX", 120.0)
        self.deadline = settings.getfloat("SCRAPER_REQUEST_DEADLINE", 90.0)
        self.download_timeout = settings.getfloat("DOWNLOAD_TIMEOUT", 30.0)

    def process_request(self, request: Request) -> None:
        request.meta.setdefault("aag_first_try", time.monotonic())
        request.meta.setdefault("download_timeout", min(self.download_timeout, self.deadline))

    def _within_deadline(self, request: Request, retry: Request, delay: float) -> bool:
        """Give ``retry`` the time left of the request's budget; False when none is left."""
        left = self.deadline - (time.monotonic() - request.meta["aag_first_try"]) - delay
        if left < 1.0:
            logger.warning(
                "Giving up on %s: its %.0f s budget for all tries is spent", request.url, self.deadline
            )
            return False
        retry.meta["download_timeout"] = min(self.download_timeout, left)
        return True

    def _delay(self, request: Request, asked: float | None) -> float:
        delay = min(self.backoff_base * 2 ** request.meta.get("retry_times", 0), self.backoff_max)
        return max(delay, asked) if asked is not None else delay

    async def process_response(self, request: Request, response: Response) -> Request | Response:  # type: ignore[override]
        if request.meta.get("dont_retry", False) or response.status not in self.retry_http_codes:
            return response
        asked = retry_after_seconds(response)
        if asked is not None and asked > self.backoff_max:
            logger.warning(
                "%s asked us to wait %.0f s (Retry-After); giving up on %s",
                response.status,
                asked,
                request.url,
            )
            return response
        retry = self._retry(request, response_status_message(response.status))
        if retry is None or not self._within_deadline(request, retry, self._delay(request, asked)):
            return response
        await self._wait(request, asked)
        return retry

    async def process_exception(self, request: Request, exception: Exception) -> Request | Response | None:  # type: ignore[override]
        if not isinstance(exception, self.exceptions_to_retry) or request.meta.get("dont_retry", False):
            return None
        retry = self._retry(request, exception)
        if retry is None or not self._within_deadline(request, retry, self._delay(request, None)):
            return None
        await self._wait(request, None)
        return retry

    async def _wait(self, request: Request, asked: float | None) -> None:
        delay = self._delay(request, asked)
        if delay > 0:
            # Imported here: importing the reactor at module level would install
            # the default one before Scrapy installs the configured reactor.
            from twisted.internet import reactor

            await deferLater(reactor, delay, lambda: None)


class ItemLimitMiddleware:
    """Drops queued API requests once the spider has stopped collecting (its
    item limit was reached or the job is being cancelled), so a crawl ends
    promptly instead of fetching pages it will not use."""

    def __init__(self, crawler: Crawler) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ItemLimitMiddleware:
        return cls(crawler)

    def process_request(self, request: Request) -> None:
        spider = self.crawler.spider
        stop = getattr(spider, "stop_reason", None)
        if stop and request.meta.get("aag_api"):
            raise NotNeeded(f"{request.url}: crawl stopping ({stop})")
