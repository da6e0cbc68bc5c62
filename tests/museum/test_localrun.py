"""`make run`'s launcher starts the sample museum where the crawl source "sample" looks for it."""

from __future__ import annotations

import pytest

from museum.localrun import _processes


def test_the_sample_museum_runs_beside_web_workers_and_beat():
    processes = _processes("127.0.0.1", 8000, "http://127.0.0.1:8765")

    assert set(processes) == {"web", "worker", "gpu", "beat", "sample"}
    assert processes["sample"][1:] == ["-m", "scraper.samplemuseum", "--host", "127.0.0.1", "--port", "8765"]
    # The worker that runs crawls listens on the crawl queue.
    assert "crawl" in processes["worker"][processes["worker"].index("-Q") + 1].split(",")


def test_the_sample_museum_follows_scraper_sample_url():
    processes = _processes("127.0.0.1", 8000, "http://localhost:9123")

    assert processes["sample"][-4:] == ["--host", "localhost", "--port", "9123"]


@pytest.mark.parametrize("url", ["https://127.0.0.1:8765", "http://127.0.0.1", "127.0.0.1:8765"])
def test_a_sample_url_it_cannot_serve_is_refused_with_an_example(url):
    with pytest.raises(SystemExit, match=r"e\.g\. http://127\.0\.0\.1:8765"):
        _processes("127.0.0.1", 8000, url)
