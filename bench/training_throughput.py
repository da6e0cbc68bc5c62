"""Training throughput: images per second and seconds per kimg of the real training step.

Times ``training.engine.loop.Trainer.step`` (G main + lazy path length, D main + lazy R1,
EMA, ADA; the same code ``train()`` runs) on a synthetic packed dataset, for every
combination of the given resolutions and batch sizes. Untimed warm-up steps come first;
the timed steps are a multiple of the lazy intervals' mix only on average, so use enough
steps (>= 16) on a GPU for a stable figure.

    python bench/training_throughput.py                         # CPU defaults, < 1 minute
    python bench/training_throughput.py --device cuda --precision auto \\
        --resolution 256 --batch 16 32 --channel-base 16384 --channel-max 512 --steps 48

On CUDA ``--sync-debug`` then runs one more lazy-regularisation cycle of steps under
``torch.cuda.set_sync_debug_mode("error")``: any host synchronisation inside the steady-state
step raises, and the figures say "sync-free" or the first synchronising call (the timing
itself runs without the check, so a failure costs no figure). ``--profile FILE`` appends the
kernel-time table of 8 more steps. ``--json FILE`` appends one JSON line per configuration.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from device_info import describe_device
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from network_options import add_network_arguments, network_config

from training.engine.dataset import PackedDataset, pack_images
from training.engine.loop import Trainer
from training.engine.options import PRECISIONS, TrainConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--resolution", type=int, nargs="+", default=[32, 64], help="image sizes (px)")
    p.add_argument("--batch", type=int, nargs="+", default=[8], help="global batch sizes")
    add_network_arguments(p)
    p.add_argument(
        "--precision", choices=PRECISIONS, default="auto", help="auto = bf16/fp16 on CUDA, fp32 on CPU"
    )
    p.add_argument("--no-ada", action="store_true", help="turn augmentation off")
    p.add_argument("--ada-p", type=float, default=0.5, help="augmentation probability held during timing")
    p.add_argument("--steps", type=int, default=8, help="timed steps per configuration")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first")
    p.add_argument("--compile", action="store_true", help="torch.compile the main G and D passes")
    p.add_argument("--channels-last", action="store_true", help="channels-last weights and activations")
    p.add_argument(
        "--no-cudnn-benchmark",
        action="store_true",
        help="CUDA: let cuDNN's heuristics pick the kernels instead of timing them on first use "
        "(the engine's default times them: slower warm-up, maybe faster steps)",
    )
    p.add_argument(
        "--sync-debug", action="store_true", help="CUDA: check that the steady-state step never syncs"
    )
    p.add_argument(
        "--profile", type=Path, help="append a torch.profiler kernel table of 8 more steps to this file"
    )
    p.add_argument("--json", type=Path, help="append one JSON line of figures per configuration here")
    p.add_argument("--label", default="", help="a name for this configuration in the JSON")
    p.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch CPU threads (default 1: the dev machine's 2 cores are shared)",
    )
    return p.parse_args(argv)


def synthetic_dataset(folder: Path, resolution: int, count: int = 64) -> PackedDataset:
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        paths.append(folder / f"{i}.png")
        Image.fromarray(rng.integers(0, 256, (resolution, resolution, 3), dtype=np.uint8)).save(paths[-1])
    return PackedDataset(pack_images(paths, folder / f"bench-{resolution}.pack", resolution).out_path)


def sync_check(trainer: Trainer) -> dict:
    """On CUDA, one whole lazy-regularisation cycle (R1 every 16, path length every 4) under
    ``set_sync_debug_mode("error")``: sync_free is True when no step waited for the device,
    False with the first synchronising call when one did."""
    cycle = max(trainer.config.r1_interval, trainer.config.pl_interval)
    torch.cuda.synchronize(trainer.device)
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(cycle):
            trainer.step()
    except RuntimeError as exc:
        return {"sync_free": False, "sync_error": str(exc).splitlines()[0][:300]}
    finally:
        torch.cuda.set_sync_debug_mode("default")
    return {"sync_free": True, "sync_error": None}


def profile(trainer: Trainer, path: Path, title: str, steps: int = 8) -> None:
    """Append the kernel-time table of ``steps`` training steps (torch.profiler) to ``path``:
    where a step's device time goes, for the next round of speed work."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    sort = "cpu_time_total"
    if trainer.device.type == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
        sort = "device_time_total"
    with torch.profiler.profile(activities=activities) as prof:
        for _ in range(steps):
            trainer.step()
        if trainer.device.type == "cuda":
            torch.cuda.synchronize(trainer.device)
    table = prof.key_averages().table(sort_by=sort, row_limit=40, max_name_column_width=60)
    with open(path, "a") as f:
        f.write(f"## {title}: {steps} steps\n{table}\n")


def measure(
    args: argparse.Namespace, dataset: PackedDataset, resolution: int, batch: int
) -> tuple[dict, Trainer]:
    net = network_config(args, resolution)
    config = TrainConfig(
        network=net,
        batch_size=batch,
        ada=not args.no_ada,
        precision=args.precision,
        device=args.device,
        compile=args.compile,
        channels_last=args.channels_last,
    )
    trainer = Trainer(config, dataset)
    if args.no_cudnn_benchmark:
        torch.backends.cudnn.benchmark = False
    if trainer.augment_pipe is not None:
        # Hold p fixed so every configuration pays for the same amount of augmentation.
        trainer.augment_pipe.p.fill_(args.ada_p)
        trainer.ada.ada_kimg = float("inf")
    device = trainer.device
    warm_start = time.perf_counter()
    for _ in range(args.warmup):
        trainer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
    warmup_seconds = time.perf_counter() - warm_start
    start = time.perf_counter()
    for _ in range(args.steps):
        trainer.step()
    if device.type == "cuda":
        torch.cuda.synchronize(device)  # the step never waits for the device; the clock must
    seconds = time.perf_counter() - start
    images = args.steps * batch
    mem = torch.cuda.max_memory_allocated(device) / 2**20 if device.type == "cuda" else float("nan")
    params = sum(p.numel() for p in trainer.G.parameters()) + sum(p.numel() for p in trainer.D.parameters())
    return {
        "params": params,
        "seconds": seconds,
        "ips": images / seconds,
        "mem_mb": mem,
        "precision": trainer.precision_name,
        "data_on_device": trainer.device_images is not None,
        "warmup_seconds": warmup_seconds,
    }, trainer


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    name = describe_device(device)
    print(f"# training throughput | torch {torch.__version__} | device {args.device} ({name})")
    print(
        f"# channel_base {args.channel_base}, channel_max {args.channel_max}, z {args.z_dim}, w {args.w_dim}, "
        f"mapping {args.mapping_layers}, style {args.style_mode}, ADA {'off' if args.no_ada else f'p={args.ada_p}'}, "
        f"R1 every 16 + path length every 4 (lazy), {args.steps} timed steps after {args.warmup} warm-up"
    )
    print(
        f"{'res':>5} {'batch':>5} {'params_M':>8} {'device':>7} {'precision':>9} {'steps':>5} "
        f"{'seconds':>8} {'img/s':>8} {'s/kimg':>8} {'peak_MiB':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for resolution in args.resolution:
            dataset = synthetic_dataset(Path(tmp), resolution)
            for batch in args.batch:
                r, trainer = measure(args, dataset, resolution, batch)
                print(
                    f"{resolution:>5} {batch:>5} {r['params'] / 1e6:>8.2f} {device.type:>7} {r['precision']:>9} "
                    f"{args.steps:>5} {r['seconds']:>8.2f} {r['ips']:>8.2f} {1000 / r['ips']:>8.1f} "
                    f"{r['mem_mb']:>8.0f}",
                    flush=True,
                )
                if args.json:
                    figures = {
                        "label": args.label,
                        "device": name,
                        "torch": torch.__version__,
                        "resolution": resolution,
                        "batch": batch,
                        "channel_base": args.channel_base,
                        "channel_max": args.channel_max,
                        "z_dim": args.z_dim,
                        "mapping_layers": args.mapping_layers,
                        "ada_p": None if args.no_ada else args.ada_p,
                        "compile": args.compile,
                        "channels_last": args.channels_last,
                        "cudnn_benchmark": not args.no_cudnn_benchmark,
                        "steps": args.steps,
                        "img_per_s": r["ips"],
                        "peak_mem_mib": r["mem_mb"] if device.type == "cuda" else None,
                        **{
                            k: r[k]
                            for k in (
                                "params",
                                "seconds",
                                "precision",
                                "data_on_device",
                                "warmup_seconds",
                            )
                        },
                    }
                    with open(args.json, "a") as f:
                        f.write(json.dumps(figures) + "\n")
                # The figures are written first: a check that fails or runs out of time costs none.
                if args.sync_debug and trainer.device.type == "cuda":
                    sync = sync_check(trainer)
                    print(
                        f"# sync-debug over a lazy-regularisation cycle: "
                        f"{'sync-free' if sync['sync_free'] else 'SYNCS: ' + str(sync['sync_error'])}",
                        flush=True,
                    )
                    if args.json:
                        with open(args.json, "a") as f:
                            f.write(json.dumps({"label": args.label, "check": "sync_debug", **sync}) + "\n")
                if args.profile is not None:
                    profile(trainer, args.profile, f"{args.label or 'bench'} {resolution}px batch {batch}")
                del trainer


if __name__ == "__main__":
    main()
