"""``python -m training {pack,train,generate,mix,interpolate,measure}``: the engine's command line."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from tqdm import tqdm

from training.engine.option_fields import add_option_arguments, option_specs

if TYPE_CHECKING:
    import numpy as np


def parse_seeds(text: str) -> list[int]:
    """'0-9,42' -> [0, 1, ..., 9, 42]."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part:
                lo, hi = part.split("-", 1)
                start, end = int(lo), int(hi)
                if end < start:
                    raise ValueError
                seeds.extend(range(start, end + 1))
            else:
                seeds.append(int(part))
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"bad seed list {text!r}: use numbers and ranges like 0-9,42"
            ) from None
    if not seeds:
        raise argparse.ArgumentTypeError(f"seed list {text!r} is empty: give e.g. 0-9,42")
    return seeds


# pack -------------------------------------------------------------------------------------


def cmd_pack(args: argparse.Namespace) -> int:
    from training.engine.dataset import pack_images

    sources: Path | list[Path]
    labels = None
    num_classes = None
    if args.class_subfolders:
        if len(args.sources) != 1 or not args.sources[0].is_dir():
            raise SystemExit(
                "--class-subfolders needs exactly one source folder whose subfolders are the classes."
            )
        classes = sorted(p for p in args.sources[0].iterdir() if p.is_dir() and not p.name.startswith("."))
        sources, labels = [], []
        for idx, folder in enumerate(classes):
            files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
            sources += files
            labels += [idx] * len(files)
        num_classes = len(classes)
        print("classes: " + ", ".join(f"{i}={c.name}" for i, c in enumerate(classes)))
    elif len(args.sources) == 1:
        sources = args.sources[0]
    else:
        sources = list(args.sources)
    bar = tqdm(unit="file", disable=args.no_progress)

    def progress(done: int, total: int) -> None:
        bar.total = total
        bar.update(done - bar.n)

    try:
        report = pack_images(
            sources,
            args.out,
            args.resolution,
            fit=args.fit,
            mirror=args.mirror,
            labels=labels,
            progress=progress,
            num_classes=num_classes,
        )
    finally:
        bar.close()
    for path, reason in report.skipped:
        print(f"skipped {path}: {reason}", file=sys.stderr)
    print(
        f"packed {report.count} images into {report.out_path} ({len(report.skipped)} skipped), sha256 {report.sha256}"
    )
    return 0


# train ------------------------------------------------------------------------------------


def _train_config(args: argparse.Namespace):
    from training.engine.option_fields import option_specs, values_from_args
    from training.engine.options import TrainConfig

    base: dict = {}
    if args.config:
        base = json.loads(Path(args.config).read_text())
    given = values_from_args(args, option_specs())
    network = {**base.get("network", {}), **given.pop("network")}
    return TrainConfig.from_dict({**base, **given, "network": network})


def cmd_train(args: argparse.Namespace) -> int:
    from training.engine.dataset import PackedDataset
    from training.engine.loop import Trainer, train

    config = _train_config(args)
    if args.dry_run:
        trainer = Trainer(config, PackedDataset(args.data))
        print(json.dumps(trainer.describe(), indent=1))
        return 0
    resume = {"auto": "auto", "none": None}.get(args.resume, args.resume)
    result = train(config, args.data, args.run_dir, resume=resume, progress=not args.no_progress)
    if os.environ.get("RANK", "0") != "0":
        return 0  # under torchrun only rank 0 reports
    print(
        f"{'stopped' if result.stopped else 'finished'} at {result.kimg:.3f} kimg after {result.steps} steps; "
        f"last checkpoint {result.last_checkpoint}"
    )
    return 0


# generate / mix / interpolate / measure --------------------------------------------------


def _save(img, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def cmd_generate(args: argparse.Namespace) -> int:
    from PIL import Image

    from training.engine.checkpoint import load_generator
    from training.engine.generate import generate_images

    G = load_generator(args.checkpoint, device=args.device)
    images = generate_images(
        G,
        args.seeds,
        psi=args.psi,
        truncation_cutoff=args.cutoff,
        noise_mode=args.noise_mode,
        class_idx=args.class_idx,
        batch_size=args.batch,
    )
    for seed, image in zip(args.seeds, images, strict=True):
        _save(Image.fromarray(image), args.outdir / f"seed{seed:06d}.png")
    print(f"wrote {len(images)} images to {args.outdir}")
    return 0


def cmd_mix(args: argparse.Namespace) -> int:
    from training.engine.checkpoint import load_generator
    from training.engine.generate import mixing_figure, style_mix

    G = load_generator(args.checkpoint, device=args.device)
    result = style_mix(
        G,
        args.rows,
        args.cols,
        args.band,
        psi=args.psi,
        noise_mode=args.noise_mode,
        class_idx=args.class_idx,
        truncation_cutoff=args.cutoff,
    )
    _save(mixing_figure(result), args.out)
    print(f"wrote the {args.band} mixing figure to {args.out}")
    return 0


def cmd_interpolate(args: argparse.Namespace) -> int:
    from PIL import Image

    from training.engine.checkpoint import load_generator
    from training.engine.generate import interpolate

    G = load_generator(args.checkpoint, device=args.device)
    frames = interpolate(
        G,
        args.seeds,
        args.steps,
        psi=args.psi,
        noise_mode=args.noise_mode,
        class_idx=args.class_idx,
        truncation_cutoff=args.cutoff,
    )
    for i, frame in enumerate(frames):
        _save(Image.fromarray(frame), args.outdir / f"frame{i:05d}.png")
    print(f"wrote {len(frames)} frames to {args.outdir}")
    return 0


def _spread(indices: np.ndarray, count: int) -> np.ndarray:
    """At most ``count`` of ``indices``, evenly spread (a fixed, reproducible choice)."""
    import numpy as np

    if len(indices) <= count:
        return indices
    return indices[np.linspace(0, len(indices) - 1, count).round().astype(np.int64)]


def cmd_measure(args: argparse.Namespace) -> int:
    import numpy as np

    from training.engine.checkpoint import checkpoint_metadata, load_generator
    from training.engine.dataset import PackedDataset, held_out_split
    from training.engine.metrics import fid
    from training.engine.quality import format_report, measure_quality

    G = load_generator(args.checkpoint, device=args.device)
    dataset = PackedDataset(args.data)
    if dataset.resolution != G.img_resolution:
        raise SystemExit(
            f"--data {args.data} is {dataset.resolution}px but the checkpoint makes {G.img_resolution}px images."
        )
    notes: list[str] = []
    train_idx, held_idx = held_out_split(dataset)
    seen = False
    if args.held_out is not None:
        held_ds = PackedDataset(args.held_out)
        if held_ds.resolution != G.img_resolution:
            raise SystemExit(
                f"--held-out {held_ds.path} is {held_ds.resolution}px but the checkpoint makes "
                f"{G.img_resolution}px images."
            )
        reals, labels = held_ds.batch(_spread(np.arange(len(held_ds)), args.num))
        train_idx = np.arange(len(dataset))  # the images in --data are all taken as trained on
    elif len(held_idx):
        reals, labels = dataset.batch(_spread(held_idx, args.num))
        if "held_out_images" not in checkpoint_metadata(args.checkpoint):
            notes.append(
                "this checkpoint does not record a held-out split, so it may have trained on the held-out "
                "images: pass --held-out with images it never saw"
            )
    else:
        seen = True
        reals, labels = dataset.batch(_spread(np.arange(len(dataset)), args.num))
        notes.append(f"{dataset.path} is too small to hold images out: the reals were trained on")
    training, _ = dataset.batch(train_idx)
    report = measure_quality(
        G,
        reals,
        training_reals=training,
        n_fake=len(reals),  # as many as reals, so the near-duplicate threshold fits the count
        psi=args.psi,
        truncation_cutoff=args.cutoff,
        noise_mode=args.noise_mode,
        labels=labels if G.num_classes and labels is not None else None,
        seed_start=args.seed_start,
        kimg=checkpoint_metadata(args.checkpoint).get("kimg"),
        reals_seen_in_training=seen,
    )
    result = report.to_dict()
    if args.inception:
        from training.engine.generate import generate_images

        fakes = generate_images(
            G,
            list(range(args.seed_start, args.seed_start + len(reals))),
            psi=args.psi,
            truncation_cutoff=args.cutoff,
            noise_mode=args.noise_mode,
            class_idx=args.class_idx,
        )
        result["fid"] = fid(reals, fakes, args.inception, device=args.device)
    result["notes"] = notes
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print(format_report(report, title=str(args.checkpoint)))
        if "fid" in result:
            print(f"FID: {result['fid']:.2f}")
        for note in notes:
            print(f"note: {note}")
    return 0


# parser -----------------------------------------------------------------------------------


def _add_generator_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", type=Path, required=True, help="checkpoint .pt written by train")
    p.add_argument("--psi", type=float, default=1.0, help="truncation psi (1 = none, 0 = the average image)")
    p.add_argument(
        "--cutoff",
        type=int,
        default=None,
        help="truncate only the first N ws (the coarse styles; default all)",
    )
    p.add_argument("--noise-mode", default="const", choices=["const", "random", "none"])
    p.add_argument(
        "--class", dest="class_idx", type=int, default=None, help="class index (conditional models)"
    )
    p.add_argument("--device", default=None, help="cpu, cuda or cuda:N (default: where the model loads)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m training", description="The StyleGAN engine of AI Art Gallery."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("pack", help="pack a folder or list of images into one training file")
    p.add_argument("sources", type=Path, nargs="+", help="a folder (searched recursively) or image files")
    p.add_argument("--out", type=Path, required=True, help="output file, e.g. data/portrait-256.pack")
    p.add_argument("--resolution", type=int, required=True, help="square output size, a power of two")
    p.add_argument(
        "--fit", choices=["crop", "pad"], default="crop", help="centre-crop (default) or pad to square"
    )
    p.add_argument("--mirror", action="store_true", help="also store an x-flipped copy of every image")
    p.add_argument(
        "--class-subfolders", action="store_true", help="each subfolder of the source is one class"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_pack)

    p = sub.add_parser("train", help="train (or resume) a StyleGAN on a packed dataset")
    p.add_argument("--data", type=Path, required=True, help="packed dataset file")
    p.add_argument("--run-dir", type=Path, required=True, help="where stats, samples and checkpoints go")
    p.add_argument("--config", type=Path, help="JSON TrainConfig to start from (flags override it)")
    p.add_argument(
        "--resume", default="auto", help="auto (newest valid checkpoint in run-dir), none, or a path"
    )
    p.add_argument(
        "--dry-run", action="store_true", help="build everything, print config and parameter counts"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    # Every TrainConfig / NetworkConfig field is a flag of the same name (option_fields).
    specs = option_specs()
    for section in ("network", "training"):
        group = p.add_argument_group(section)
        add_option_arguments(group, [s for s in specs if s.section == section])
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("generate", help="write one PNG per seed")
    _add_generator_args(p)
    p.add_argument("--seeds", type=parse_seeds, required=True, help="e.g. 0-9,42")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--outdir", type=Path, required=True)
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("mix", help="write a style-mixing figure (A down the side, B across the top)")
    _add_generator_args(p)
    p.add_argument("--rows", type=parse_seeds, required=True, help="seeds of the row sources A")
    p.add_argument("--cols", type=parse_seeds, required=True, help="seeds of the column sources B")
    p.add_argument(
        "--band", choices=["coarse", "middle", "fine"], default="coarse", help="B's layers that replace A's"
    )
    p.add_argument("--out", type=Path, required=True, help="output PNG")
    p.set_defaults(func=cmd_mix)

    p = sub.add_parser("interpolate", help="write frames walking between seeds in w")
    _add_generator_args(p)
    p.add_argument("--seeds", type=parse_seeds, required=True)
    p.add_argument("--steps", type=int, default=30, help="frames per pair of seeds")
    p.add_argument("--outdir", type=Path, required=True)
    p.set_defaults(func=cmd_interpolate)

    p = sub.add_parser(
        "measure",
        help="the quality report of a checkpoint (SWD and floor, precision, recall, diversity, "
        "near duplicates, copies, verdict; FID with --inception)",
    )
    _add_generator_args(p)
    p.add_argument(
        "--data",
        type=Path,
        required=True,
        help="the packed dataset the checkpoint trained on; its held-out split is the reals "
        "unless --held-out is given",
    )
    p.add_argument(
        "--held-out",
        type=Path,
        help="a packed dataset of images the checkpoint never saw (then all of --data counts as trained on)",
    )
    p.add_argument("--num", type=int, default=1000, help="at most this many real and generated images")
    p.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")
    p.add_argument("--seed-start", type=int, default=1_000_000)
    p.add_argument("--inception", type=Path, help="local TorchScript Inception file for FID")
    p.set_defaults(func=cmd_measure)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)  # before importing torch, so --help is instant
    from training.engine.checkpoint import CheckpointError

    try:
        return int(args.func(args))
    except (ValueError, FileNotFoundError, CheckpointError) as exc:
        # Configuration and input errors: one clear line, not a traceback.
        print(f"error: {exc}", file=sys.stderr)
        return 2
