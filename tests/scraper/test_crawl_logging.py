"""What a crawl process writes: its log level holds for Scrapy's own lines, and
with AAG_LOG_FILE everything goes to that file and nothing to the console
(what keeps `make run` and the crawl worker's output readable)."""

from __future__ import annotations

import pytest

from tests.scraper.factories import make_job, painting_bytes

pytestmark = pytest.mark.slow


def three_paintings(fake_museum) -> None:
    for n in range(3):
        fake_museum.add_aic(f"img-{n}", painting_bytes(n), id=300 + n)


def test_a_crawl_at_info_level_prints_no_line_per_request_or_item(fake_museum, run_crawl, capfd):
    three_paintings(fake_museum)
    job = make_job("landscape", source="aic")

    assert run_crawl(job, SCRAPER_LOG_LEVEL="INFO", LOG_LEVEL="INFO") == 0

    printed = "".join(capfd.readouterr())
    assert "Spider closed (finished)" in printed  # INFO lines still come through
    assert "Crawled (200)" not in printed
    assert "Scraped from" not in printed


def test_with_a_log_file_the_crawl_prints_nothing_and_the_file_holds_scrapys_lines(
    fake_museum, run_crawl, capfd, tmp_path
):
    three_paintings(fake_museum)
    job = make_job("landscape", source="aic")
    log = tmp_path / "logs" / "crawl.log"

    assert run_crawl(job, AAG_LOG_FILE=str(log), SCRAPER_LOG_LEVEL="DEBUG", LOG_LEVEL="INFO") == 0

    out, err = capfd.readouterr()
    assert (out, err) == ("", "")
    text = log.read_text()
    assert "Scraped from" in text and "Crawled (200)" in text
    assert "Spider closed (finished)" in text
