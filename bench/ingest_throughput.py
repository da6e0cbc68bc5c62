"""Ingest throughput: images/s from a real crawl, end to end into the database.

Starts the tests' fake museum (a local HTTP server in the AIC API's shape)
with N distinct paintings, migrates a fresh SQLite database in a temporary
data folder, runs a real crawl process (Scrapy, the safety and retry
middlewares, the ingest pipeline: checks, re-encoding, hashing, storage, DB
rows) and prints stored rows / wall time.

Politeness is switched off for the local server through the crawl's
environment (SCRAPER_DOWNLOAD_DELAY=0, SCRAPER_AUTOTHROTTLE=0,
SCRAPER_CONCURRENCY); against a real museum the per-source limits bound a
crawl (AIC: 60 requests/minute), not this figure.

    .venv/bin/python bench/ingest_throughput.py --images 200

SCRAPER_INGEST_THREADS (default 2 on SQLite, 4 on PostgreSQL) sets how many
images are checked and stored at a time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from http.server import ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=200, help="paintings the fake museum serves")
    parser.add_argument("--concurrency", type=int, default=8, help="requests at a time to the local server")
    parser.add_argument("--size", type=int, default=512, help="width of each painting in pixels")
    parser.add_argument("--log-level", default="WARNING", help="the crawl process's log level")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder to inspect it")
    args = parser.parse_args()

    data_dir = Path(tempfile.mkdtemp(prefix="aag-bench-"))
    env = {**os.environ, "AAG_DATA_DIR": str(data_dir), "DJANGO_SETTINGS_MODULE": "museum.settings"}
    env.pop("DATABASE_URL", None)  # always a fresh SQLite file, never a shared server
    subprocess.run([sys.executable, "manage.py", "migrate", "-v", "0"], cwd=ROOT, env=env, check=True)
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))

    import django

    django.setup()
    from gallery.models import Genre
    from scraper.crawling.runner import run_crawl_process
    from scraper.models import CrawlJob, ScrapedImage
    from tests.scraper.conftest import FakeMuseum, _handler_for, crawl_env
    from tests.scraper.factories import painting_bytes

    museum = FakeMuseum(page_size=100)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(museum))
    server.daemon_threads = True
    museum.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    height = args.size * 4 // 5
    total_bytes = 0
    for n in range(args.images):
        data = painting_bytes(n, width=args.size, height=height)
        total_bytes += len(data)
        museum.add_aic(f"bench-{n}", data, id=n + 1)

    job = CrawlJob.objects.create(source="aic", genre=Genre.objects.get(slug="landscape"), query="landscape")
    crawl_env_vars = crawl_env(
        museum,
        data_dir / "media",
        DATABASE_URL=f"sqlite:///{data_dir / 'museum.sqlite3'}",
        SCRAPER_CONCURRENCY=str(args.concurrency),
        SCRAPER_LOG_LEVEL=args.log_level,
    )
    started = time.perf_counter()
    code = run_crawl_process(job.pk, extra_env=crawl_env_vars)
    wall = time.perf_counter() - started
    server.shutdown()

    job.refresh_from_db()
    stored = ScrapedImage.objects.filter(job=job).count()
    print(f"crawl exit code      {code}")
    print(f"job counts           {job.counts}")
    print(f"images served        {args.images} ({args.size}x{height} JPEG, {total_bytes / 1e6:.1f} MB)")
    print(f"rows stored          {stored}")
    print(f"wall time            {wall:.1f} s (including the crawl process's start)")
    print(f"throughput           {stored / wall:.1f} images/s")
    ok = code == 0 and stored == args.images
    if args.keep:
        print(f"data folder          {data_dir}")
    else:
        shutil.rmtree(data_dir)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
