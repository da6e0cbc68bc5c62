"""Equal-time training before and after a change, judged by the quality report.

The previous code (``--base``, default ``main``, exported with ``git archive``) and this
tree each train one model on the same pack of the sample collection, for the same number
of seconds, with one thread each, *at the same time* (so a shared machine's load falls on
both alike). Each run stops through its own ``TrainCallbacks.should_stop`` when its time
is up and leaves a checkpoint; both are then judged by this tree's ``measure_quality``
against unseen paintings, together with the speckle figure: the share of the samples'
pixel-level detail (mean absolute Laplacian) that disappears when the noise inputs are
switched off.

    python bench/equal_time.py --seconds 300 --json equal_time.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NET = dict(resolution=32, z_dim=128, w_dim=128, mapping_layers=2, channel_base=2048, channel_max=128)


def worker(src: Path, pack: Path, run_dir: Path, seconds: float, batch: int, seed: int = 0) -> None:
    sys.path.insert(0, str(src))
    import torch

    from training.engine.config import NetworkConfig
    from training.engine.loop import TrainCallbacks, train
    from training.engine.options import TrainConfig

    torch.set_num_threads(1)
    deadline = time.monotonic() + seconds

    class Timed(TrainCallbacks):
        def should_stop(self) -> bool:
            return time.monotonic() >= deadline

    config = TrainConfig(
        network=NetworkConfig(**NET),
        batch_size=batch,
        total_kimg=10_000,
        tick_kimg=1,
        checkpoint_kimg=10_000,
        mirror=True,
        device="cpu",
        seed=seed,
    )
    result = train(config, pack, run_dir, callbacks=Timed(), progress=False)
    print(json.dumps({"kimg": result.kimg, "steps": result.steps, "checkpoint": str(result.last_checkpoint)}))


def laplacian_detail(images: np.ndarray) -> float:
    a = images.astype(np.float64)
    lap = 4 * a[:, 1:-1, 1:-1] - a[:, :-2, 1:-1] - a[:, 2:, 1:-1] - a[:, 1:-1, :-2] - a[:, 1:-1, 2:]
    return float(np.abs(lap).mean())


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="main")
    p.add_argument("--seconds", type=float, default=300)
    p.add_argument("--genre", default="landscape")
    p.add_argument("--paintings", type=int, default=600, help="training paintings (seeds 0..N-1)")
    p.add_argument("--held-out", type=int, default=200)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument(
        "--seed", type=int, default=0, help="training seed of both runs (weights, data order, latents)"
    )
    p.add_argument(
        "--fake-sets",
        type=int,
        default=3,
        help="the SWD is measured on this many disjoint sets of generated images: their spread is its noise",
    )
    p.add_argument("--json", type=Path)
    p.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        src, pack, run_dir = args.worker
        worker(Path(src), Path(pack), Path(run_dir), args.seconds, args.batch, args.seed)
        return

    from bench.cpu_before_after import export_tree
    from scraper.samplemuseum.painter import paint
    from training.engine.checkpoint import checkpoint_metadata, load_generator
    from training.engine.dataset import PackedDataset, pack_images
    from training.engine.generate import generate_images
    from training.engine.quality import measure_quality

    res = NET["resolution"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "paint").mkdir()
        paths = []
        for i in range(args.paintings):
            paths.append(tmp / "paint" / f"{i}.png")
            paint(args.genre, i, res).save(paths[-1])
        pack = pack_images(paths, tmp / "data.pack", res).out_path
        held = np.stack([np.asarray(paint(args.genre, 100_000 + i, res)) for i in range(args.held_out)])
        (tmp / "old").mkdir()
        old_src = export_tree(args.base, tmp / "old")
        load = os.getloadavg()
        env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        procs = {}
        for name, src in (("before", old_src), ("after", ROOT)):
            cmd = [sys.executable, __file__, "--seconds", str(args.seconds), "--batch", str(args.batch)]
            cmd += ["--seed", str(args.seed)]
            cmd += ["--worker", str(src), str(pack), str(tmp / f"run-{name}")]
            procs[name] = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=env, cwd=src)
        results: dict = {
            "base": args.base,
            "seconds": args.seconds,
            "genre": args.genre,
            "paintings": args.paintings,
            "held_out": args.held_out,
            "network": NET,
            "batch": args.batch,
            "seed": args.seed,
            "load_start": load,
        }
        training = PackedDataset(pack).batch(np.arange(args.paintings))[0]
        for name, proc in procs.items():
            out, _ = proc.communicate()
            if proc.returncode:
                raise SystemExit(f"the {name} run failed (exit {proc.returncode})")
            run = json.loads(out.strip().splitlines()[-1])
            G = load_generator(run["checkpoint"])
            report = measure_quality(G, held, training_reals=training, kimg=run["kimg"])
            # The same measurement on other generated images (seeds past the first set's):
            # how far the SWD moves by chance alone.
            swds = [report.swd] + [
                measure_quality(
                    G, held, training_reals=training, seed_start=k * 100_000, kimg=run["kimg"]
                ).swd
                for k in range(1, args.fake_sets)
            ]
            with_noise = laplacian_detail(generate_images(G, list(range(64)), noise_mode="const"))
            without = laplacian_detail(generate_images(G, list(range(64)), noise_mode="none"))
            results[name] = {
                **run,
                "resampling": checkpoint_metadata(run["checkpoint"])["config"]["network"]["resampling"],
                "report": report.to_dict(),
                "swd_fake_sets": swds,
                "detail_with_noise": with_noise,
                "detail_without_noise": without,
                "noise_share_of_detail": 1 - without / with_noise if with_noise else None,
            }
            print(
                f"{name:>6}: {run['kimg']:.2f} kimg in {args.seconds:.0f} s; SWD {report.swd:.2f} "
                f"(on {len(swds)} sets of fakes {min(swds):.2f}-{max(swds):.2f}) "
                f"(floor {report.swd_floor:.2f}), precision {report.precision:.2f}, recall {report.recall:.2f}, "
                f"diversity {report.diversity:.2f}, near-dup {report.near_duplicate_rate:.2f}, copies "
                f"{report.copy_rate:.2f}; detail {with_noise:.1f} with noise, {without:.1f} without; "
                f"{report.summary()}",
                flush=True,
            )
        results["real_detail"] = laplacian_detail(held)
        results["load_end"] = os.getloadavg()
        print(f"reals' detail {results['real_detail']:.1f}; load {load} -> {results['load_end']}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
