"""Run the sample museum: `python -m scraper.samplemuseum --port 8765 --per-genre 60`."""

from __future__ import annotations

import argparse

from scraper.samplemuseum.painter import MAX_SIZE, MIN_SIZE
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
    args = parser.parse_args(argv)
    try:
        collection = SampleCollection(args.per_genre, args.size)
    except ValueError as exc:
        parser.error(str(exc))
    server = SampleMuseumServer(args.host, args.port, collection, verbose=args.verbose)
    print(f"Sample museum (synthetic paintings) at {server.base_url}", flush=True)
    print(f"Crawl it with: SCRAPER_AIC_URL={server.base_url} SCRAPER_ALLOW_LOOPBACK=1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        print("Stopped.")
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
