"""Slim a training checkpoint to what the gallery paints with: the EMA generator and the metadata.

A training checkpoint also holds G, D, both optimizers and RNG state so a run can resume;
that is about seven times the generator's size. The demo ships only the EMA generator,
in float16 (load_generator casts it back to float32), written with the engine's own
atomic `save_checkpoint` so `load_generator` and `checkpoint_metadata` read it as usual.

    python -m training.demo.slim RUN_DIR_OR_CHECKPOINT OUT.pt
"""

from __future__ import annotations

import argparse
from pathlib import Path

from training.engine.checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint


def slim_checkpoint(source: Path, out: Path) -> Path:
    """Write the EMA generator (float16) and metadata of `source` (a checkpoint or a run folder) to `out`."""
    path = latest_checkpoint(source) if source.is_dir() else source
    if path is None:
        raise SystemExit(f"{source} holds no valid checkpoint: train first, or pass a checkpoint file.")
    state = load_checkpoint(path)
    generator = {
        name: tensor.half() if tensor.is_floating_point() else tensor
        for name, tensor in state["G_ema"].items()
    }
    meta = dict(state["meta"], slimmed_from=path.name, slimmed="G_ema only, float16")
    meta.pop("stats", None)
    save_checkpoint(out, {"G_ema": generator, "meta": meta})
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m training.demo.slim", description=__doc__.splitlines()[0])
    parser.add_argument("source", type=Path, help="a checkpoint file, or a run folder (its newest valid one)")
    parser.add_argument("out", type=Path, help="where to write the slim checkpoint (.pt)")
    args = parser.parse_args(argv)
    out = slim_checkpoint(args.source, args.out)
    meta = load_checkpoint(out)["meta"]
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB), {meta['kimg']:.1f} kimg, step {meta['step']}")


if __name__ == "__main__":
    main()
