"""Run the sample museum: `python -m scraper.samplemuseum --port 8765 --per-genre 60`."""

from __future__ import annotations

import argparse
from pathlib import Path

from scraper.samplemuseum.painter import GENRES, MAX_SIZE, MIN_SIZE, paint
from scraper.samplemuseum.server import SampleCollection, SampleMuseumServer


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m scraper.samplemuseum",
        description="Serve a synthetic collection of paintings in the shape of the Art Institute of Chicago API.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port; 0 picks a free one (default 8765)")
    parser.add_argument("--per-genre", type=int, default=60, help="works per genre (default 60)")
    parser.add_argument(
        "--size", type=int, default=256, help=f"painting size in pixels, {MIN_SIZE}..{MAX_SIZE} (default 256)"
    )
    parser.add_argument("--verbose", action="store_true", help="log every request")
    parser.add_argument(
        "--export",
        type=Path,
        metavar="DIR",
        help="instead of serving, write DIR/<genre>/<seed>.png for seeds 0..per-genre-1 and exit "
        "(a training set for `python -m training pack --class-subfolders` or one pack per genre)",
    )
    parser.add_argument(
        "--genres",
        default=",".join(GENRES),
        help=f"with --export: which genres, comma-separated (default {','.join(GENRES)})",
    )
    args = parser.parse_args(argv)
    if args.export:
        genres = [g.strip() for g in args.genres.split(",") if g.strip()]
        unknown = sorted(set(genres) - set(GENRES))
        if unknown:
            parser.error(f"unknown genre(s) {', '.join(unknown)}: choose from {', '.join(GENRES)}")
        export(args.export, args.per_genre, args.size, genres)
        return
    try:
        collection = SampleCollection(args.per_genre, args.size)
    except ValueError as exc:
        parser.error(str(exc))
    server = SampleMuseumServer(args.host, args.port, collection, verbose=args.verbose)
    print(f"Sample museum (synthetic paintings) at {server.base_url}", flush=True)
    print(
        f"Crawl it as the source “sample” with SCRAPER_SAMPLE_URL={server.base_url} "
        "(the default is http://127.0.0.1:8765)",
        flush=True,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.")
    finally:
        server.server_close()


def export(folder: Path, per_genre: int, size: int, genres: list[str]) -> None:
    """Write the collection's paintings as PNG files, one subfolder per genre."""
    for genre in genres:
        out = folder / genre
        out.mkdir(parents=True, exist_ok=True)
        for seed in range(per_genre):
            paint(genre, seed, size).save(out / f"{seed:06d}.png")
        print(f"{genre}: {per_genre} paintings of {size} px in {out}", flush=True)


if __name__ == "__main__":
    main()
