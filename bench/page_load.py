"""Public pages under load, against a bare Django view served by the same process.

Seeds 10,000 published artworks in one room (one INSERT batch sharing one set
of placeholder thumbnails) and a mixing exhibit, starts gunicorn as production
does (sync workers, DEBUG off, collected static files, the page cache: Redis
when REDIS_URL is set, else the embedded file cache), and runs `wrk` against
every public page and a bare `HttpResponse("ok")` view in interleaved rounds
at 16 and 64 connections. Prints req/s, p50 and p99 per page and its share of
the bare view's req/s; then a returning browser's revalidation of a room page by
its ETag (an empty 304), the same pages with the page cache bypassed (what
the cache carries) and the time of one request right after every cached page
was retired (a cold cache).

    make bench-pages                      # or: .venv/bin/python bench/page_load.py
    DATABASE_URL=postgres://.../bench REDIS_URL=redis://127.0.0.1:6379/9 make bench-pages

DATABASE_URL must name a database the bench may fill (it migrates it and adds
the 10,000 artworks once; a rerun reuses them). Without it a fresh SQLite file
in a temporary folder is used. Loopback only; about three minutes.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(__file__).resolve().parent
CONNECTIONS = (16, 64)
TARGET_SHARE = 0.5  # every page at least half the bare view's req/s ...
TARGET_P99_MS = 100.0  # ... with p99 under 100 ms at 16 connections


@dataclass
class Target:
    name: str
    path: str
    cached: bool = True
    connections: tuple[int, ...] = CONNECTIONS
    header: str = ""  # one request header wrk sends, e.g. If-None-Match
    runs: dict[int, list[tuple[float, float, float]]] = field(
        default_factory=dict
    )  # conns -> (rps, p50, p99)


def check_wrk() -> str:
    wrk = shutil.which("wrk")
    if not wrk:
        sys.exit(
            "bench/page_load.py needs the load tool wrk: install it with `apt-get install -y wrk` "
            "(Debian/Ubuntu; `brew install wrk` on macOS), then run the bench again."
        )
    return wrk


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f}, {five:.2f}, {fifteen:.2f} on {os.cpu_count()} CPUs"


def bench_env(data_dir: Path) -> dict[str, str]:
    """Production-shaped settings (as docker-compose.yml sets them), on loopback HTTP."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "page_load_settings",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(BENCH)]),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "page-load-bench-" + "x" * 40,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "DJANGO_SECURE_SSL_REDIRECT": "0",  # no TLS proxy in front of the bench
        "AAG_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "WARNING",
    }
    for name in ("DATABASE_URL", "REDIS_URL"):
        if not os.environ.get(name):
            env.pop(name, None)
    return env


def seed(artworks: int) -> dict[str, int]:
    """Migrate, collect static files, and hang ``artworks`` paintings in the portrait room (once)."""
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from gallery.models import Artwork, Genre, MixingExhibit
    from tests.gallery.factories import bulk_artworks, make_exhibit

    call_command("migrate", verbosity=0, interactive=False)
    call_command("collectstatic", verbosity=0, interactive=False)
    room = Genre.objects.get(slug="portrait")
    have = Artwork.objects.published().filter(genre=room).count()
    if have < artworks:
        bulk_artworks(room, artworks - have, start_seed=1_000_000 + have)
    if not MixingExhibit.objects.published().exists():
        make_exhibit(room, rows=3, cols=4, size=64)
    middle = Artwork.objects.published().filter(genre=room).order_by("-created", "-id")[artworks // 2]
    exhibit = MixingExhibit.objects.published().first()
    counts = {"room_size": Artwork.objects.published().filter(genre=room).count()}
    counts.update(artwork=middle.pk, exhibit=exhibit.pk, engine=connection.vendor)
    connection.close()
    return counts


def get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def start_gunicorn(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "museum.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--log-level",
        "warning",
    ]
    with log.open("w") as out:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"gunicorn exited with {server.returncode}:\n{log.read_text()}")
        try:
            if get(f"http://127.0.0.1:{port}/bench/bare")[0] == 200:
                return server
        except OSError:
            pass
        time.sleep(0.3)
    stop(server)
    sys.exit(f"gunicorn did not answer on 127.0.0.1:{port} within 60 s:\n{log.read_text()}")


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=15)


def check_pages(base: str, targets: list[Target]) -> None:
    """Every page answers 200 with no cookie, and the cached ones really come from the cache."""
    for target in targets:
        get(base + target.path)
        status, headers, _body = get(base + target.path)
        if status != 200:
            sys.exit(f"{target.path} answered {status}: the bench measures only pages that work.")
        if "Set-Cookie" in headers:
            sys.exit(f"{target.path} set a cookie ({headers['Set-Cookie']}): anonymous pages must not.")
        if target.cached and headers.get("X-Page-Cache") != "hit":
            sys.exit(
                f"{target.path} was not served from the page cache on its second request: is the cache up?"
            )


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def wrk_run(
    wrk: str, url: str, connections: int, seconds: int, header: str = ""
) -> tuple[float, float, float]:
    extra = ["-H", header] if header else []
    result = subprocess.run(
        [
            wrk,
            "-t",
            "2",
            "-c",
            str(connections),
            "-d",
            f"{seconds}s",
            "--latency",
            "--timeout",
            "5s",
            *extra,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    out = result.stdout
    if "Non-2xx or 3xx responses" in out:
        sys.exit(f"wrk saw error responses from {url}:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    if "Socket errors" in out:  # timeouts past 5 s: say so rather than average them away
        print(
            f"  {url} at {connections} connections: {re.search(r'Socket errors.*', out).group(0)}", flush=True
        )
    percentiles = {
        int(p): float(v) * UNIT_MS[u]
        for p, v, u in re.findall(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
    }
    if not percentiles:  # nothing completed within the run
        return rps, float("inf"), float("inf")
    return rps, percentiles[50], percentiles[99]


def cold_ms(base: str, path: str, repeats: int) -> tuple[float, float]:
    """(cold, warm) median ms of one request: right after every cached page was retired, and again."""
    cold, warm = [], []
    for _ in range(repeats):
        get(base + "/bench/bump")
        for times in (cold, warm):
            started = time.perf_counter()
            get(base + path)
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(cold), statistics.median(warm)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--artworks", type=int, default=10_000, help="published paintings in the measured room"
    )
    parser.add_argument("--duration", type=int, default=2, help="seconds of each wrk run")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds over every page")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn sync workers")
    parser.add_argument("--port", type=int, default=8501, help="loopback port for gunicorn")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data folder")
    args = parser.parse_args()
    wrk = check_wrk()
    started = time.monotonic()
    print(f"start: {load()}", flush=True)

    data_dir = Path(tempfile.mkdtemp(prefix="aag-page-bench-"))
    env = bench_env(data_dir)
    os.environ.update(env)
    sys.path[:0] = [str(ROOT), str(BENCH)]
    seeded = seed(args.artworks)
    print(
        f"seeded in {time.monotonic() - started:.0f} s: {seeded['room_size']} artworks in the portrait room "
        f"({seeded['engine']}), cache {'Redis' if env.get('REDIS_URL') else 'files'}, "
        f"gunicorn {args.workers} sync workers",
        flush=True,
    )
    art, exhibit = seeded["artwork"], seeded["exhibit"]
    last_page = -(-seeded["room_size"] // 24)
    targets = [
        Target("bare view", "/bench/bare", cached=False),
        Target("home", "/"),
        Target("home (ja)", "/ja/"),
        Target("room, page 1", "/rooms/portrait/"),
        Target("room, page 1 (ja)", "/ja/rooms/portrait/"),
        Target(f"room, page {last_page // 2}", f"/rooms/portrait/?page={last_page // 2}"),
        Target("artwork", f"/artworks/{art}/"),
        Target("artwork (ja)", f"/ja/artworks/{art}/"),
        Target("exhibit list", "/exhibits/"),
        Target("exhibit", f"/exhibits/{exhibit}/"),
    ]
    uncached = [
        Target(f"uncached {t.name}", "/bench/uncached" + t.path, cached=False, connections=(16,))
        for t in targets[1:]
        if "(ja)" not in t.name
    ]
    base = f"http://127.0.0.1:{args.port}"
    server = start_gunicorn(env, args.port, args.workers, data_dir / "gunicorn.log")
    try:
        check_pages(base, targets + uncached)
        # A returning visitor: the browser sends the ETag it kept and gets an empty 304.
        room = next(t for t in targets if t.name == "room, page 1")
        _status, headers, _body = get(base + room.path)
        request = urllib.request.Request(base + room.path, headers={"If-None-Match": headers["ETag"]})
        try:
            urllib.request.urlopen(request, timeout=10)
            sys.exit(f"{room.path} answered its own ETag with 200, not 304: revalidation does not work.")
        except urllib.error.HTTPError as exc:
            if exc.code != 304:
                raise
        uncached.insert(
            0,
            Target(
                "room, page 1, revalidated",
                room.path,
                cached=False,
                connections=(16,),
                header=f"If-None-Match: {headers['ETag']}",
            ),
        )
        for _round in range(args.rounds):
            for connections in CONNECTIONS:
                for target in targets + uncached:
                    if connections in target.connections:
                        run = wrk_run(wrk, base + target.path, connections, args.duration, target.header)
                        target.runs.setdefault(connections, []).append(run)
        cold = {t.name: cold_ms(base, t.path, 5) for t in targets[1:]}
    finally:
        stop(server)
        if not args.keep:
            shutil.rmtree(data_dir, ignore_errors=True)

    bare = {c: statistics.mean(r[0] for r in targets[0].runs[c]) for c in CONNECTIONS}
    print(f"\nwrk {args.rounds} interleaved rounds × {args.duration:g} s per page and connection count")
    print(f"{'page':<28} {'conns':>5} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'of bare':>8}")
    misses = []
    for target in targets + uncached:
        for connections, runs in target.runs.items():
            rps = statistics.mean(r[0] for r in runs)
            p50 = statistics.median(r[1] for r in runs)
            p99 = max(r[2] for r in runs)  # the worst round
            share = rps / bare[connections] if bare[connections] else float("nan")
            print(f"{target.name:<28} {connections:>5} {rps:>8.0f} {p50:>8.1f} {p99:>8.1f} {share:>7.0%}")
            if target.cached and connections == 16 and (share < TARGET_SHARE or p99 >= TARGET_P99_MS):
                misses.append(f"{target.name}: {share:.0%} of bare, p99 {p99:.1f} ms")
    print("\none request right after every cached page was retired (median of 5), then the same page again")
    print(f"{'page':<28} {'cold ms':>8} {'warm ms':>8}")
    for name, (cold_time, warm_time) in cold.items():
        print(f"{name:<28} {cold_time:>8.1f} {warm_time:>8.1f}")
    print(f"\nend: {load()}; {time.monotonic() - started:.0f} s in all")
    if not all(bare.values()):
        print(
            "the bare view served no request in some runs: the machine is too busy to measure; run it again"
        )
        return 1
    if misses:
        print("target missed (>= 50 % of bare and p99 < 100 ms at 16 connections): " + "; ".join(misses))
        return 1
    print(
        "target met: every public page >= 50 % of the bare view's req/s with p99 < 100 ms at 16 connections"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
