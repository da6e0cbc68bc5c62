"""The CPU training step before and after a change, measured in one run.

The previous code (``--base``, default ``main``) is exported with ``git archive`` into a
temporary folder; each measurement is a fresh process that imports either that tree or
this one and times ``Trainer.step`` (G main + lazy path length, D main + lazy R1, EMA) on
the same synthetic dataset with the same seed. Old and new alternate, round after round,
so a shared machine's changing load falls on both alike and their ratio holds.

    python bench/cpu_before_after.py                       # both configurations, 3 rounds
    python bench/cpu_before_after.py --config demo --rounds 2 --steps 4

Configurations (ADA off, one thread, as in issue 12):
- ``full32``: 32 px, full width (channel base 16384, max 512, z/w 512, mapping 8), batch 8:
  21.5 M parameters in G and 21.5 M in D (at 32 px every level has 512 channels);
- ``demo``: the demo models' network at 64 px (base 8192, max 128, z/w 256, mapping 4), batch 8.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = {
    "full32": dict(
        resolution=32, z_dim=512, w_dim=512, mapping_layers=8, channel_base=16384, channel_max=512
    ),
    "demo": dict(resolution=64, z_dim=256, w_dim=256, mapping_layers=4, channel_base=8192, channel_max=128),
}


def worker(src: Path, config: str, batch: int, steps: int, warmup: int) -> None:
    """Runs in a child process with ``src`` first on sys.path: time that tree's step."""
    sys.path.insert(0, str(src))
    import numpy as np
    import torch
    from PIL import Image

    from training.engine.config import NetworkConfig
    from training.engine.dataset import PackedDataset, pack_images
    from training.engine.loop import Trainer
    from training.engine.options import TrainConfig

    torch.set_num_threads(1)
    net = NetworkConfig(**CONFIGS[config])
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        paths = []
        for i in range(32):
            paths.append(Path(tmp) / f"{i}.png")
            Image.fromarray(rng.integers(0, 256, (net.resolution,) * 2 + (3,), dtype=np.uint8)).save(
                paths[-1]
            )
        dataset = PackedDataset(pack_images(paths, Path(tmp) / "d.pack", net.resolution).out_path)
        trainer = Trainer(TrainConfig(network=net, batch_size=batch, ada=False, device="cpu"), dataset)
        for _ in range(warmup):
            trainer.step()
        start = time.perf_counter()
        for _ in range(steps):
            trainer.step()
        seconds = time.perf_counter() - start
    params = [sum(p.numel() for p in m.parameters()) for m in (trainer.G, trainer.D)]
    print(json.dumps({"seconds": seconds, "img_per_s": steps * batch / seconds, "params": params}))


def export_tree(base: str, folder: Path) -> Path:
    """``git archive`` of ``base`` unpacked into ``folder``."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", base], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def measure(src: Path, config: str, args: argparse.Namespace) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(src), "--config", config]
    cmd += ["--batch", str(args.batch), "--steps", str(args.steps), "--warmup", str(args.warmup)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env, cwd=src)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", default="main", help="git revision of the previous code (default main)")
    p.add_argument("--config", choices=sorted(CONFIGS), nargs="+", default=["full32", "demo"])
    p.add_argument("--batch", type=int, default=8)
    p.add_argument(
        "--steps", type=int, default=4, help="timed steps per measurement (>= 4: one path-length cycle)"
    )
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3, help="old/new pairs per configuration")
    p.add_argument("--json", type=Path, help="write the figures here too")
    p.add_argument("--worker", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args.worker, args.config[0], args.batch, args.steps, args.warmup)
        return
    results: dict = {"base": args.base, "batch": args.batch, "steps": args.steps, "configs": {}}
    load_before = os.getloadavg()
    print(f"# CPU step, before ({args.base}) and after (this tree), 1 thread, ADA off, batch {args.batch}")
    print(f"# load average at start: {', '.join(f'{x:.1f}' for x in load_before)} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        old_src = export_tree(args.base, Path(tmp))
        for config in args.config:
            old, new = [], []
            for r in range(args.rounds):
                # Alternate which goes first, so neither always meets the same moment of load.
                order = [("old", old_src, old), ("new", ROOT, new)]
                for name, src, into in order if r % 2 == 0 else order[::-1]:
                    fig = measure(src, config, args)
                    into.append(fig)
                    print(f"{config:>7} round {r + 1} {name}: {fig['img_per_s']:.3f} img/s", flush=True)
            old_ips = statistics.median(f["img_per_s"] for f in old)
            new_ips = statistics.median(f["img_per_s"] for f in new)
            ratios = [n["img_per_s"] / o["img_per_s"] for o, n in zip(old, new, strict=True)]
            results["configs"][config] = {
                "network": CONFIGS[config],
                "params_G_D_old": old[0]["params"],
                "params_G_D_new": new[0]["params"],
                "old_img_per_s": [f["img_per_s"] for f in old],
                "new_img_per_s": [f["img_per_s"] for f in new],
                "median_old": old_ips,
                "median_new": new_ips,
                "pair_ratios": ratios,
            }
            print(
                f"{config:>7}: before {old_ips:.3f} img/s, after {new_ips:.3f} img/s, "
                f"after/before {new_ips / old_ips:.2f} (pairs {', '.join(f'{x:.2f}' for x in ratios)}); "
                f"params G/D {new[0]['params'][0] / 1e6:.1f} M / {new[0]['params'][1] / 1e6:.1f} M",
                flush=True,
            )
    results["load_start"] = load_before
    results["load_end"] = os.getloadavg()
    print(f"# load average at end: {', '.join(f'{x:.1f}' for x in results['load_end'])}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
