"""Run a crawl in a child process and report its progress.

Scrapy's Twisted reactor cannot be restarted in one process, and
``multiprocessing`` cannot fork from a (daemonic) prefork Celery child, so
every crawl is a fresh ``python -m scraper.crawling <job_id>`` process.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable

from django.conf import settings

from scraper.models import CrawlJob

POLL_SECONDS = 1.0


def run_crawl_process(
    job_id: int,
    on_progress: Callable[[dict], None] | None = None,
    extra_env: dict | None = None,
    keep_going: Callable[[], bool] | None = None,
) -> int:
    """Run job ``job_id``'s crawl in a new process and return its exit code.

    The child inherits this process's environment (database, media root...)
    plus ``extra_env``. ``on_progress`` receives the job's counts
    ({outcome: n, "outcome:reason": n}) whenever they change, and once at the end.
    ``keep_going`` is called at every poll (it renews the job's heartbeat);
    when it returns False the crawl process is stopped and its code returned.
    """
    env = {**os.environ, **{key: str(value) for key, value in (extra_env or {}).items()}}
    env.setdefault("DJANGO_SETTINGS_MODULE", "museum.settings")
    env["PYTHONUNBUFFERED"] = "1"
    env["AAG_CRAWL_PARENT_PID"] = str(os.getpid())  # the child stops if we die without stopping it
    proc = subprocess.Popen(
        [sys.executable, "-m", "scraper.crawling", str(job_id)], cwd=settings.BASE_DIR, env=env
    )
    last: dict | None = None
    try:
        while True:
            try:
                code: int | None = proc.wait(timeout=POLL_SECONDS)
            except subprocess.TimeoutExpired:
                code = None
            if on_progress is not None:
                counts = CrawlJob.objects.filter(pk=job_id).values_list("counts", flat=True).first() or {}
                if counts != last or code is not None:
                    on_progress(dict(counts))
                    last = counts
            if code is not None:
                return code
            if keep_going is not None and not keep_going():
                break
    finally:
        if proc.poll() is None:
            # We are being interrupted (worker shutdown): don't leave an orphan crawl.
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    return proc.returncode
