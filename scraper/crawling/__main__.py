"""The crawl process: ``python -m scraper.crawling <job_id>``.

Runs one CrawlJob's spider with its own Twisted reactor and exits: 0 when the
crawl finished (also when cancelled or stopped at its item limit), 1 when it
could not run. The job's status is left to the caller (scraper.tasks).
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import sys


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m scraper.crawling <crawl job id>", file=sys.stderr)
        return 2
    job_id = int(args[0])
    # `kill -USR1 <pid>` prints every thread's stack: the way to see where a stuck crawl waits.
    faulthandler.register(signal.SIGUSR1)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "museum.settings")
    import django

    django.setup()

    from django.db import connections
    from scrapy.crawler import CrawlerProcess

    from scraper.crawling.settings import scrapy_settings
    from scraper.crawling.spiders import spider_for
    from scraper.crawling.spiders.collection import split_queries
    from scraper.ingest import append_log
    from scraper.models import CrawlJob

    job = CrawlJob.objects.select_related("genre").filter(pk=job_id).first()
    if job is None:
        print(
            f"Crawl job {job_id} does not exist: start crawls from the admin or `manage.py crawl`.",
            file=sys.stderr,
        )
        return 1
    queries = split_queries(job.effective_query)
    if not queries:
        message = (
            f"Crawl job {job_id} has nothing to search for: give the job a query or "
            f"set search terms on the genre {job.genre.slug!r}."
        )
        append_log(job_id, message)
        print(message, file=sys.stderr)
        return 1
    spider_cls = spider_for(job.source)
    # Django's LOGGING already has a handler on the root logger (console, or AAG_LOG_FILE).
    process = CrawlerProcess({**scrapy_settings(job.source), "LOG_INSTALL_ROOT_HANDLER": False})
    # Scrapy sets its own loggers to DEBUG and leaves LOG_LEVEL to the root handler it
    # installs; without that handler LOG_LEVEL must be applied here, or every
    # "Crawled"/"Scraped from" line (DEBUG) reaches the log whatever it says.
    logging.getLogger("scrapy").setLevel(process.settings.get("LOG_LEVEL"))
    crawler = process.create_crawler(spider_cls)
    process.crawl(crawler, job_id=job.pk, genre=job.genre.slug, queries=queries, item_limit=job.item_limit)
    # The reactor runs for minutes; don't hold a connection opened before it.
    connections.close_all()
    try:
        process.start()
    finally:
        connections.close_all()
    reason = crawler.stats.get_value("finish_reason")
    return 0 if reason in ("finished", "cancelled") else 1


if __name__ == "__main__":
    sys.exit(main())
