"""Crawls only fetch what they may: allow-listed public hosts, robots.txt
obeyed, every redirect checked; and they stop when told to."""

from __future__ import annotations

import threading

import pytest

from scraper.crawling.middlewares import address_refusal
from scraper.models import CrawlJob, ScrapedImage
from tests.conftest import wait_for
from tests.scraper.conftest import AIC_IMAGE_PATH
from tests.scraper.factories import make_job, painting_bytes


def counts(job: CrawlJob) -> dict[str, int]:
    job.refresh_from_db()
    return job.counts


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fd00::1",
        "224.0.0.1",
        "0.0.0.0",
        "100.64.0.1",
        "::ffff:10.0.0.1",
        "240.0.0.1",
    ],
)
def test_private_link_local_and_reserved_addresses_are_refused_even_when_loopback_is_allowed(address):
    assert address_refusal(address, allow_loopback=False) is not None
    assert address_refusal(address, allow_loopback=True) is not None


@pytest.mark.parametrize("address", ["127.0.0.1", "127.8.9.10", "::1", "::ffff:127.0.0.1"])
def test_loopback_is_refused_unless_explicitly_allowed(address):
    assert "loopback" in address_refusal(address, allow_loopback=False)
    assert address_refusal(address, allow_loopback=True) is None


@pytest.mark.parametrize("address", ["8.8.8.8", "151.101.1.69", "2606:4700::6810:84e5"])
def test_public_addresses_are_allowed(address):
    assert address_refusal(address, allow_loopback=False) is None


slow = pytest.mark.slow


@slow
def test_robots_txt_disallowed_images_are_never_requested(fake_museum, run_crawl):
    fake_museum.robots_txt = "User-agent: *\nDisallow: /iiif/2/secret/\n"
    fake_museum.add_aic("open", painting_bytes(70), id=1)
    fake_museum.add_aic("secret", painting_bytes(71), id=2)
    job = make_job("landscape", source="aic")

    assert run_crawl(job) == 0

    assert fake_museum.requested(AIC_IMAGE_PATH.format(image_id="secret")) == 0
    assert fake_museum.requested("/robots.txt") == 1
    assert counts(job) == {"stored": 1, "refused": 1, "refused:robots_txt": 1}
    assert set(ScrapedImage.objects.values_list("source_id", flat=True)) == {"1"}


@slow
def test_every_redirect_is_checked_and_unsafe_ones_are_refused(fake_museum, run_crawl):
    port = fake_museum.base_url.rsplit(":", 1)[1]
    landing = AIC_IMAGE_PATH.format(image_id="landing")
    fake_museum.serve(landing, painting_bytes(80))
    fake_museum.add_aic("metadata", None, id=1)
    fake_museum.redirect(
        AIC_IMAGE_PATH.format(image_id="metadata"), "http://169.254.169.254/latest/meta-data/"
    )
    fake_museum.add_aic("private", None, id=2)
    fake_museum.redirect(AIC_IMAGE_PATH.format(image_id="private"), "http://10.0.0.1/painting.jpg")
    fake_museum.add_aic("elsewhere", None, id=3)
    # localhost is this same server, but not a host the AIC crawl may fetch from.
    fake_museum.redirect(AIC_IMAGE_PATH.format(image_id="elsewhere"), f"http://localhost:{port}{landing}")
    fake_museum.add_aic("moved", None, id=4)
    fake_museum.redirect(AIC_IMAGE_PATH.format(image_id="moved"), fake_museum.base_url + landing)
    job = make_job("landscape", source="aic")

    assert run_crawl(job) == 0

    assert counts(job) == {
        "stored": 1,
        "refused": 3,
        "refused:private_address": 2,
        "refused:host_not_allowed": 1,
    }
    # Only the safe redirect (same allowed host) was followed, once.
    assert fake_museum.requested(landing) == 1
    assert set(ScrapedImage.objects.values_list("source_id", flat=True)) == {"4"}
    assert "169.254.169.254" in job.log_tail and "localhost" in job.log_tail


@slow
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_loopback_server_is_refused_without_the_test_switch(fake_museum, run_crawl, host):
    fake_museum.add_aic("one", painting_bytes(90), id=1)
    port = fake_museum.base_url.rsplit(":", 1)[1]
    job = make_job("landscape", source="aic")

    assert run_crawl(job, SCRAPER_ALLOW_LOOPBACK="0", SCRAPER_AIC_URL=f"http://{host}:{port}") == 0

    assert fake_museum.seen == []  # not even robots.txt
    assert counts(job) == {"refused": 1, "refused:private_address": 1}
    assert "loopback" in job.log_tail


@slow
def test_a_download_over_the_size_cap_is_abandoned_and_counted(fake_museum, run_crawl):
    fake_museum.add_aic("small", painting_bytes(95), id=1)
    fake_museum.add_aic("huge", painting_bytes(96, width=2400, height=2000, fmt="PNG"), "image/png", id=2)
    job = make_job("landscape", source="aic")

    assert run_crawl(job, SCRAPER_DOWNLOAD_MAXSIZE=str(500_000)) == 0

    assert counts(job) == {"stored": 1, "rejected": 1, "rejected:too_large": 1}
    assert set(ScrapedImage.objects.values_list("source_id", flat=True)) == {"1"}


@slow
def test_the_item_limit_stops_the_crawl_early(fake_museum, run_crawl):
    for n in range(6):
        fake_museum.add_aic(f"lim-{n}", painting_bytes(100 + n), id=n + 1)
    job = make_job("landscape", source="aic", item_limit=2)

    assert run_crawl(job) == 0

    assert counts(job) == {"stored": 2}
    assert fake_museum.requested("/api/v1/artworks/search") == 1  # no page after the limit
    assert "item limit reached" in job.log_tail


@slow
def test_cancelling_a_running_crawl_stops_it(fake_museum, run_crawl):
    for n in range(6):
        fake_museum.add_aic(f"can-{n}", painting_bytes(110 + n), id=n + 1)
    release = fake_museum.hold("/api/v1/artworks/search", page="2")
    job = make_job("landscape", source="aic", status="running")
    result: dict[str, int] = {}
    crawl = threading.Thread(target=lambda: result.setdefault("code", run_crawl(job)))
    crawl.start()
    try:
        wait_for(lambda: fake_museum.requested("/api/v1/artworks/search") == 2, what="page 2 requested")
        CrawlJob.objects.filter(pk=job.pk).update(status="cancelling")
        wait_for(
            lambda: "stopping the crawl" in CrawlJob.objects.get(pk=job.pk).log_tail,
            what="the crawl to notice",
        )
    finally:
        release.set()
        crawl.join(timeout=120)

    assert result["code"] == 0
    searches = fake_museum.requests_for("/api/v1/artworks/search")
    assert [s.query["page"] for s in searches] == [["1"], ["2"]]  # page 3 never asked for
    assert ScrapedImage.objects.count() <= 2
    assert "crawl finished (cancelled)" in CrawlJob.objects.get(pk=job.pk).log_tail


def test_the_resolver_refuses_a_name_whose_answer_turned_private_after_the_check():
    # DNS rebinding: the middleware saw a public answer; the connection's own
    # lookup (answered here from Scrapy's DNS cache) now says 10.0.0.1.
    from scrapy.resolver import dnscache
    from twisted.internet.error import DNSLookupError

    from scraper.crawling.middlewares import PublicAddressResolver

    resolver = PublicAddressResolver(None, cache_size=100, timeout=5.0)
    dnscache["rebinding.example"] = "10.0.0.1"
    dnscache["museum.example"] = "93.184.216.34"
    refused, allowed = [], []
    resolver.getHostByName("rebinding.example").addCallbacks(allowed.append, refused.append)
    resolver.getHostByName("museum.example").addCallbacks(allowed.append, refused.append)

    assert allowed == ["93.184.216.34"]
    assert len(refused) == 1 and refused[0].check(DNSLookupError)
    assert "10.0.0.1" in str(refused[0].value)


@slow
def test_a_named_loopback_host_is_crawled_through_the_checked_resolver_when_allowed(fake_museum, run_crawl):
    port = fake_museum.base_url.rsplit(":", 1)[1]
    fake_museum.base_url = f"http://localhost:{port}"
    fake_museum.add_aic("named", painting_bytes(130), id=1)
    job = make_job("landscape", source="aic")

    assert run_crawl(job, SCRAPER_AIC_URL=fake_museum.base_url) == 0

    assert counts(job) == {"stored": 1}
    assert ScrapedImage.objects.get().image_url.startswith("http://localhost:")
