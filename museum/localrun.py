"""Run the whole museum on one machine: web, workers and beat, in the foreground.

``make run`` calls this after migrating and filling the museum. Ctrl-C stops
every process it started. Each process's output is prefixed with its name.
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

ROOT = Path(__file__).resolve().parent.parent


def _processes(host: str, port: int) -> dict[str, list[str]]:
    celery = [sys.executable, "-m", "celery", "-A", "museum"]
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
        "beat": [*celery, "beat", "-l", "INFO"],
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
    for name, cmd in _processes(args.host, args.port).items():
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        procs[name] = proc
        threading.Thread(target=_pump, args=(name, proc.stdout), daemon=True).start()

    url = f"http://{args.host}:{args.port}/"
    print(
        f"\n  The museum is open at {url}\n  Admin: {url}admin/ (login printed above by `manage.py demo`)\n"
        "  Ctrl-C stops web, workers and beat.\n",
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
