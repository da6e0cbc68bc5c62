"""Run the whole museum on one machine: web, workers, beat and the sample
museum, in the foreground.

``make run`` calls this after filling the museum. Ctrl-C stops every process
it started. The site is served as visitors see it: DEBUG off (the museum's own
404 and 500 pages), static files collected into the data folder and served by
whitenoise, a local secret key kept in ``data/secret_key``. Each process writes
its output to ``data/logs/<name>.log``; the console shows only where the
museum is, and which process stopped, with the end of its log.
The sample museum (synthetic paintings, offline) listens where
SCRAPER_SAMPLE_URL says (default http://127.0.0.1:8765), so staff can start a
crawl of the "Sample Museum" source from the admin while the museum is up.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from collections import deque
from pathlib import Path
from typing import IO
from urllib.parse import urlsplit

from museum.secretkey import local_secret_key

ROOT = Path(__file__).resolve().parent.parent
# The same default as SCRAPER_BASE_URLS["sample"] in museum/settings.py.
SAMPLE_URL = "http://127.0.0.1:8765"


def data_dir() -> Path:
    """The data folder, as museum/settings.py finds it (AAG_DATA_DIR or ./data)."""
    return Path(os.environ.get("AAG_DATA_DIR") or ROOT / "data").resolve()


def log_dir() -> Path:
    return data_dir() / "logs"


def local_env(host: str, sample_url: str) -> dict[str, str]:
    """The environment of every process: production behaviour (DEBUG off) on plain
    HTTP at a loopback address, so no HTTPS redirect, HSTS or HTTPS-only cookies."""
    hosts = dict.fromkeys(["127.0.0.1", "localhost", "[::1]", host])
    return {
        **os.environ,
        "PYTHONUNBUFFERED": "1",
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY") or local_secret_key(data_dir()),
        "DJANGO_ALLOWED_HOSTS": os.environ.get("DJANGO_ALLOWED_HOSTS") or ",".join(hosts),
        "DJANGO_SECURE_SSL_REDIRECT": "0",
        "DJANGO_HSTS_SECONDS": "0",
        "DJANGO_SECURE_COOKIES": "0",
        # Web, workers and the sample museum agree on where the sample museum is.
        "SCRAPER_SAMPLE_URL": sample_url,
    }


def banner(host: str, port: int, sample_url: str, login: str) -> str:
    url = f"http://{host}:{port}/"
    return (
        f"\n  The museum is open at {url}\n"
        f"  Admin: {url}admin/  (login: {login})\n"
        f"  Sample museum (synthetic paintings) at {sample_url}: crawl it from the admin as the\n"
        "  source “Sample Museum (synthetic, offline)”.\n"
        f"  Logs of web, workers, beat and the sample museum: {log_dir()}/<name>.log\n"
        "  Ctrl-C stops them all.\n"
    )


def demo_login() -> str:
    login_file = data_dir() / "demo-admin-login.txt"
    if login_file.is_file():
        return login_file.read_text().strip()
    return "an existing superuser; `manage.py createsuperuser` makes one"


def last_lines(path: Path, count: int = 15) -> list[str]:
    with open(path, errors="replace") as fh:
        return list(deque(fh, maxlen=count))


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


def wait_until_listening(host: str, port: int, web: subprocess.Popen, timeout: float = 120) -> bool:
    """True once the web process accepts connections; False if it exited first (the loop reports it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and web.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.2)
    return web.poll() is None


def collect_static(env: dict[str, str], log: IO[str]) -> None:
    """With DEBUG off the web process serves static files from data/staticfiles (whitenoise)."""
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--no-input"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)

    sample_url = os.environ.get("SCRAPER_SAMPLE_URL") or SAMPLE_URL
    processes = _processes(args.host, args.port, sample_url)
    env = local_env(args.host, sample_url)
    log_dir().mkdir(parents=True, exist_ok=True)
    logs = {name: log_dir() / f"{name}.log" for name in ("collectstatic", *processes)}
    with open(logs["collectstatic"], "w") as log:
        try:
            collect_static(env, log)
        except subprocess.CalledProcessError:
            print(f"collectstatic failed; the end of {logs['collectstatic']}:")
            print("".join(last_lines(logs["collectstatic"])), flush=True)
            return 1
    procs: dict[str, subprocess.Popen] = {}
    for name, cmd in processes.items():
        # Each run starts its logs afresh, so a log holds this run only.
        with open(logs[name], "w") as log:
            procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)

    if wait_until_listening(args.host, args.port, procs["web"]):
        print(banner(args.host, args.port, sample_url, demo_login()), flush=True)

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
                print(
                    f"{name} exited with status {proc.returncode}; stopping the others. "
                    f"The end of {logs[name]}:\n" + "".join(last_lines(logs[name])),
                    flush=True,
                )
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
