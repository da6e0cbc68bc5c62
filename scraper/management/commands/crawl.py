"""``manage.py crawl --source aic --genre landscape [--limit N] [--query ...]``

Runs a crawl in the foreground (no worker needed) with a progress bar; the job
is recorded like one started from the admin.
"""

from __future__ import annotations

import sys

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from gallery.models import Genre
from scraper.models import CrawlJob, Source
from scraper.services import finish_job, run_job


class Command(BaseCommand):
    help = "Crawl one source for one genre in the foreground, with a progress bar."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--source", required=True, choices=Source.values, help="Which museum to crawl.")
        parser.add_argument("--genre", required=True, help="Genre slug, e.g. landscape.")
        parser.add_argument("--limit", type=int, default=0, help="Stop after this many items (0 = no limit).")
        parser.add_argument("--query", default="", help="Search terms (default: the genre's search terms).")

    def handle(self, *args, source: str, genre: str, limit: int, query: str, **options) -> None:
        if limit < 0:
            raise CommandError(f"--limit {limit} is negative; use 0 for no limit or a positive number.")
        found = Genre.objects.filter(slug=genre).first()
        if found is None:
            known = ", ".join(Genre.objects.values_list("slug", flat=True))
            raise CommandError(f"There is no genre {genre!r}; choose one of: {known}.")
        job = CrawlJob.objects.create(source=source, genre=found, query=query.strip(), item_limit=limit)
        self.stdout.write(f"Crawl job {job.pk}: {source} for {found.slug} ({job.effective_query!r})")

        # tqdm needs the raw stream (Django's wrapper adds a newline to each write).
        stream = options.get("stderr") or sys.stderr
        bar = tqdm(total=limit or None, unit="item", desc=f"crawl {job.pk}", file=stream)

        def on_progress(counts: dict) -> None:
            processed = sum(n for key, n in counts.items() if ":" not in key)
            bar.update(processed - bar.n)
            bar.set_postfix(
                {key: n for key, n in sorted(counts.items()) if ":" not in key},
                refresh=True,
            )

        try:
            finished = run_job(job.pk, on_progress=on_progress)
        except KeyboardInterrupt as exc:
            CrawlJob.objects.filter(pk=job.pk).update(status=CrawlJob.Status.CANCELLING)
            finish_job(job.pk)
            raise CommandError(f"Interrupted: crawl job {job.pk} was cancelled.") from exc
        finally:
            bar.close()
        if finished is None:
            raise CommandError(f"Crawl job {job.pk} was not started (it is no longer queued).")
        summary = ", ".join(f"{key}: {n}" for key, n in sorted(finished.counts.items())) or "nothing"
        if finished.status != CrawlJob.Status.SUCCEEDED:
            raise CommandError(f"Crawl job {job.pk} {finished.status}: {finished.error}\nCounts: {summary}")
        self.stdout.write(self.style.SUCCESS(f"Crawl job {job.pk} succeeded. {summary}"))
