"""The Scrapy side of crawls: spiders per museum, safety and politeness
middlewares, the pipeline into ``scraper.ingest``, and the per-crawl process.

Nothing is imported here so that Django can load the ``scraper`` app without
pulling in Scrapy and Twisted.
"""
