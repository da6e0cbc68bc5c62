"""Run the whole museum on one machine: web, workers, beat and the sample
museum, in the foreground.

``make run`` calls this after migrating and filling the museum. Ctrl-C stops
every process it started. Each process's output is prefixed with its name.
The sample museum (synthetic paintings, offline) listens where
SCRAPER_SAMPLE_URL says (default http://127.0.0.1:8765), so staff can start a
crawl of the "Sample Museum" source from the admin while the museum is up.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
# The same default as SCRAPER_BASE_URLS["sample"] in museum/settings.py.
SAMPLE_URL = "http://127.0.0.1:8765"


def data_dir() -> Path:
    """The data folder, as museum/settings.py finds it (AAG_DATA_DIR or ./data)."""
    return Path(os.environ.get("AAG_DATA_DIR") or ROOT / "data").resolve()


def sample_museum_address(url: str) -> tuple[str, int]:
    """Host and port the sample museum listens on, from SCRAPER_SAMPLE_URL."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        raise SystemExit(
            f"SCRAPER_SAMPLE_URL={url!r}: give an http URL with a host and a port, e.g. {SAMPLE_URL}."
        )
    return parts.hostname, parts.port


def _processes(host: str, port: int, sample_url: str) -> dict[str, list[str]]:
    celery = [sys.executable, "-m", "celery", "-A", "museum"]
    sample_host, sample_port = sample_museum_address(sample_url)
    return {
        "web": [sys.executable, "manage.py", "runserver", "--noreload", f"{host}:{port}"],
        # Small work and crawls share one CPU worker on a laptop.
        "worker": [*celery, "worker", "-Q", "default,crawl", "-c", "1", "-n", "main@%h", "-l", "INFO"],
        # Training and generation: one task at a time, a fresh child per task.
        "gpu": [
            *celery,
            "worker",
            "-Q",
            "gpu",
            "-c",
            "1",
            "--max-tasks-per-child",
            "1",
            "-n",
            "gpu@%h",
            "-l",
            "INFO",
        ],
        # Beat's schedule file beside the database, not in the working tree.
        "beat": [*celery, "beat", "-s", str(data_dir() / "celerybeat-schedule"), "-l", "INFO"],
        # What a crawl of the "sample" source fetches (see docs/demo.md).
        "sample": [
            sys.executable,
            "-m",
            "scraper.samplemuseum",
            "--host",
            sample_host,
            "--port",
            str(sample_port),
        ],
    }


def _pump(name: str, stream) -> None:
    for line in iter(stream.readline, b""):
        sys.stdout.write(f"{name:>6} | {line.decode(errors='replace')}")
        sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)

    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    procs: dict[str, subprocess.Popen] = {}
    sample_url = os.environ.get("SCRAPER_SAMPLE_URL") or SAMPLE_URL
    for name, cmd in _processes(args.host, args.port, sample_url).items():
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs[name] = proc
        threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()

    url = f"http://{args.host}:{args.port}/"
    print(
        f"\n  The museum is open at {url}\n  Admin: {url}admin/ (login printed above by `manage.py demo`)\n"
        f"  Sample museum (synthetic paintings) at {sample_url}: crawl it from the admin as the\n"
        "  source “Sample Museum (synthetic, offline)”.\n"
        "  Ctrl-C stops web, workers, beat and the sample museum.\n",
        flush=True,
    )

    stopping = False

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    exit_code = 0
    while not stopping:
        for name, proc in procs.items():
            if proc.poll() is not None:
                print(f"{name} exited with status {proc.returncode}; stopping the others.", flush=True)
                exit_code = proc.returncode or 1
                stopping = True
                break
        time.sleep(0.5)
    for proc in procs.values():
        if proc.poll() is None:
            proc.terminate()
    deadline = time.monotonic() + 20
    for proc in procs.values():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
