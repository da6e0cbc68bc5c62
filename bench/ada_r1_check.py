"""First thing on a GPU: ADA with lazy R1 trains on this device (double backward through the
gather-based, sym6-filtered warp), with finite losses and an R1 penalty that is not zero.

    python bench/ada_r1_check.py --device cuda --json check.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from training.engine.config import NetworkConfig
from training.engine.dataset import PackedDataset, pack_images
from training.engine.loop import Trainer
from training.engine.options import TrainConfig


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cuda")
    p.add_argument("--precision", default="auto")
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    net = NetworkConfig(
        resolution=32, z_dim=64, w_dim=64, mapping_layers=2, channel_base=1024, channel_max=64
    )
    config = TrainConfig(
        network=net,
        batch_size=8,
        ada=True,
        r1_interval=2,
        pl_interval=2,
        device=args.device,
        precision=args.precision,
    )
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        paths = []
        for i in range(16):
            paths.append(Path(tmp) / f"{i}.png")
            Image.fromarray(rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)).save(paths[-1])
        trainer = Trainer(config, PackedDataset(pack_images(paths, Path(tmp) / "d.pack", 32).out_path))
        trainer.augment_pipe.p.fill_(0.9)  # every augmentation in play
        stats = [trainer.step() for _ in range(4)]
    r1 = [float(s["r1"]) for s in stats if "r1" in s]
    losses = [float(s[k]) for s in stats for k in ("loss_G", "loss_D")]
    ok = bool(r1) and all(math.isfinite(x) for x in r1 + losses) and all(x > 0 for x in r1)
    result = {
        "check": "ada_r1",
        "device": torch.cuda.get_device_name(trainer.device) if trainer.device.type == "cuda" else "cpu",
        "precision": trainer.precision_name,
        "r1": r1,
        "losses": losses,
        "augment_p": trainer.ada.p,
        "ok": ok,
    }
    print(json.dumps(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    if not ok:
        raise SystemExit("ADA + R1 did not train cleanly on this device: see the figures above.")


if __name__ == "__main__":
    main()
