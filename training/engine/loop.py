"""The training loop: a ``Trainer`` that owns the state of one run and ``train()`` that drives it.

Determinism: every random draw comes from generators whose state is checkpointed
(torch CPU/CUDA, numpy, python ``random``, and two private torch generators for the
data order and the latents), so on CPU a resumed run continues bit for bit.

Speed: the steady-state step never waits for the host. Losses, regulariser values and
ADA's statistics stay on the device and are read once per tick (``_Run.current_stats``);
batches are gathered on the device from a resident copy of the dataset when it fits;
the host's random draws (data order, latents) travel through pinned memory without
blocking; Adam is fused on CUDA (foreach on the CPU) and the EMA is one foreach lerp.
``bench/training_throughput.py --sync-debug`` proves the first claim on CUDA.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import resource
import time
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from training.engine.augment import AdaController, AugmentPipe
from training.engine.checkpoint import (
    checkpoint_name,
    host_description,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
    sidecar_path,
)
from training.engine.dataset import PackedDataset, held_out_split
from training.engine.distributed import DistContext, init_distributed
from training.engine.loss import StyleGANLoss
from training.engine.networks import build_networks
from training.engine.options import TrainConfig

if TYPE_CHECKING:
    from training.engine.quality import QualityReport

GRID_COLS = 8
GRID_ROWS = 4
METRIC_SEED_BASE = 1_000_000  # metric samples use seeds far from the sample grid's 0..31
PROGRESS_SECONDS = 5.0
MIN_MEASURED_IMAGES = 8  # quality.MIN_REALS: fewer reals make no quality report


class TrainCallbacks:
    """Subclass and override what you need; the loop calls these on rank 0 only."""

    def on_start(self, info: dict) -> None:
        """Once, after setup (and after loading a checkpoint when resuming)."""

    def on_progress(self, stats: dict) -> None:
        """Every few seconds, with running statistics."""

    def on_tick(self, stats: dict, grid_path: Path) -> None:
        """Every tick_kimg: the tick's statistics and the fixed-seed sample grid PNG."""

    def on_checkpoint(self, path: Path, stats: dict) -> None:
        """After a checkpoint has been written completely."""

    def should_stop(self) -> bool:
        """Checked at every step boundary; True saves a checkpoint and returns."""
        return False


@dataclass
class TrainResult:
    kimg: float
    steps: int
    stopped: bool
    last_checkpoint: Path | None


def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        return torch.device(f"cuda:{local_rank}") if torch.cuda.is_available() else torch.device("cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device={name!r} was asked for but CUDA is not available; use device='cpu'.")
    if name == "cuda":
        return torch.device(f"cuda:{local_rank}")
    return torch.device(name)


def resolve_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32."""
    if precision == "fp32":
        return None
    if device.type == "cuda":
        if precision == "auto":
            return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return torch.bfloat16 if precision == "bf16" else torch.float16
    if precision == "auto":
        return None
    if precision == "bf16":
        return torch.bfloat16
    raise ValueError(f"precision={precision!r} needs CUDA; on CPU use 'fp32', 'bf16' or 'auto'.")


@contextlib.contextmanager
def preserved_rng() -> Iterator[None]:
    """Run side work (sample grids, metrics) without disturbing the training random streams."""
    np_state = np.random.get_state()
    py_state = random.getstate()
    devices = list(range(torch.cuda.device_count())) if torch.cuda.is_available() else []
    with torch.random.fork_rng(devices=devices):
        yield
    np.random.set_state(np_state)
    random.setstate(py_state)


def _rng_state() -> dict[str, Any]:
    keys, pos, has_gauss, cached = np.random.get_state()[1:]
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {
            "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "python": {
            "version": int(version),
            "state": torch.tensor(internal, dtype=torch.int64),
            "gauss": gauss,
        },
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.cpu() for s in torch.cuda.get_rng_state_all()]
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].cpu())
    n = state["numpy"]
    np.random.set_state(
        ("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["cached_gaussian"])
    )
    p = state["python"]
    random.setstate((p["version"], tuple(int(x) for x in p["state"].tolist()), p["gauss"]))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _count_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


class Trainer:
    """Networks, optimisers, augmentation and data order of one run; ``step()`` trains one batch."""

    def __init__(
        self,
        config: TrainConfig,
        dataset: PackedDataset,
        dist_ctx: DistContext | None = None,
        device: torch.device | None = None,
    ) -> None:
        config.validate()
        self.config = config
        self.dataset = dataset
        self.dist = dist_ctx or DistContext()
        self.device = device or resolve_device(config.device, self.dist.local_rank)
        self.amp_dtype = resolve_precision(config.precision, self.device)
        if self.device.type == "cuda":
            # Fixed shapes every step: let cuDNN pick the fastest kernels once.
            torch.backends.cudnn.benchmark = True
        net = config.network
        if dataset.resolution != net.resolution:
            raise ValueError(
                f"Dataset {dataset.path} is {dataset.resolution}px but the network is {net.resolution}px: "
                "pack the dataset at the network's resolution or change network.resolution."
            )
        if net.num_classes > 0 and dataset.num_classes == 0:
            raise ValueError(
                f"The network is class-conditional ({net.num_classes} classes) but dataset {dataset.path} "
                "has no labels: pack it with labels or set num_classes=0."
            )
        if net.num_classes and dataset.num_classes > net.num_classes:
            raise ValueError(
                f"Dataset {dataset.path} has {dataset.num_classes} classes but the network only {net.num_classes}."
            )
        if config.batch_size % self.dist.world_size:
            raise ValueError(
                f"batch_size={config.batch_size} must divide evenly over {self.dist.world_size} processes."
            )
        self.batch_per_rank = config.batch_size // self.dist.world_size

        # Identical initial weights on every rank come from the shared seed.
        torch.manual_seed(config.seed)
        self.G, self.D = build_networks(net)
        self.G.to(self.device).train()
        self.D.to(self.device).train()
        self.memory_format = (
            torch.channels_last
            if config.channels_last and self.device.type == "cuda"
            else torch.contiguous_format
        )
        if self.memory_format == torch.channels_last:
            self.G.to(memory_format=torch.channels_last)
            self.D.to(memory_format=torch.channels_last)
        self.G_ema = copy.deepcopy(self.G).eval().requires_grad_(False)
        self.dist.broadcast_module(self.G)
        self.dist.broadcast_module(self.D)
        self.dist.broadcast_module(self.G_ema)

        # Per-rank streams (augmentation, noise, style mixing) differ; data order and latents are shared.
        rank_seed = config.seed + 7919 * self.dist.rank
        torch.manual_seed(rank_seed)
        np.random.seed(rank_seed % 2**32)
        random.seed(rank_seed)
        self.data_gen = torch.Generator().manual_seed(config.seed)
        self.latent_gen = torch.Generator().manual_seed(config.seed + 1)
        # The held-out images are never trained on: the quality report compares with them.
        train_idx, self.held_out_indices = held_out_split(dataset)
        self.train_indices = torch.from_numpy(train_idx)
        self._training_features: tuple[torch.Tensor, float] | None = None  # for copy checks, once
        self.perm = self._shuffled()
        # Too few images for any report: the run trains, and says it was not measured (describe()).
        self.unmeasured_reason: str | None = None
        if config.metric_kimg and len(dataset) < MIN_MEASURED_IMAGES:
            self.unmeasured_reason = (
                f"dataset {dataset.path} holds {len(dataset)} images; a quality report needs at least "
                f"{MIN_MEASURED_IMAGES}"
            )
        self.pos = 0
        self.device_images, self.device_labels = self._resident_dataset()

        g_ratio = config.lazy_ratio(config.pl_interval) if config.pl_weight > 0 else 1.0
        d_ratio = config.lazy_ratio(config.r1_interval) if config.r1_gamma_value > 0 else 1.0
        # One fused kernel per optimiser step on CUDA; the foreach form on the CPU.
        fast = {"fused": True} if self.device.type == "cuda" else {"foreach": True}
        self.opt_G = torch.optim.Adam(
            self.G.parameters(), lr=config.g_lr * g_ratio, betas=(0.0, 0.99**g_ratio), eps=1e-8, **fast
        )
        self.opt_D = torch.optim.Adam(
            self.D.parameters(), lr=config.d_lr * d_ratio, betas=(0.0, 0.99**d_ratio), eps=1e-8, **fast
        )
        self._ema_params = list(self.G_ema.parameters())
        self._params = list(self.G.parameters())
        self._ema_buffers = [b for b in self.G_ema.buffers()]
        self._buffers = [b for b in self.G.buffers()]
        use_scaler = self.amp_dtype == torch.float16
        self.scaler_G = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.scaler_D = torch.amp.GradScaler(self.device.type, enabled=use_scaler)

        self.augment_pipe: AugmentPipe | None = None
        self.ada: AdaController | None = None
        if config.ada:
            self.augment_pipe = AugmentPipe().to(self.device)
            self.ada = AdaController(
                self.augment_pipe, config.ada_target, config.ada_interval, config.ada_kimg, config.batch_size
            )
        self.loss = StyleGANLoss(
            self.G,
            self.D,
            self.augment_pipe,
            r1_gamma=config.r1_gamma_value,
            style_mixing_prob=config.style_mixing_prob,
            pl_weight=config.pl_weight,
            autocast=self._autocast,
            reduce_mean=self.dist.all_reduce_mean,
        )
        if config.compile:
            self.loss.compile_main()
        self.nimg = 0
        self.step_count = 0

    # ------------------------------------------------------------------------------------

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    @property
    def precision_name(self) -> str:
        """'fp32', or the mixed-precision autocast type: 'bf16' / 'fp16'."""
        return {torch.bfloat16: "bf16", torch.float16: "fp16"}.get(self.amp_dtype, "fp32")

    @property
    def kimg(self) -> float:
        return self.nimg / 1000

    def _one_hot(self, labels: np.ndarray | torch.Tensor | None) -> torch.Tensor | None:
        if self.config.network.num_classes == 0 or labels is None:
            return None
        if not isinstance(labels, torch.Tensor):
            labels = self._to_device(torch.as_tensor(np.asarray(labels), dtype=torch.int64))
        return F.one_hot(labels, self.config.network.num_classes).float()

    def _to_device(self, t: torch.Tensor) -> torch.Tensor:
        """Host tensor to the device without making the host wait (pinned, non-blocking)."""
        if self.device.type != "cuda":
            return t
        return t.pin_memory().to(self.device, non_blocking=True)

    def _resident_dataset(self) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The whole packed dataset in device memory, when asked for, on CUDA, and it fits
        in a quarter of the free memory (256 px: 196 KiB an image, 10k images 1.9 GiB)."""
        if not (self.config.data_on_device and self.device.type == "cuda"):
            return None, None
        free, _total = torch.cuda.mem_get_info(self.device)
        if self.dataset.images.nbytes > free // 4:
            return None, None
        with warnings.catch_warnings():
            # The packed file is a read-only memory map; the tensor is only read, to copy it over.
            warnings.filterwarnings("ignore", message="The given NumPy array is not writable")
            images = torch.from_numpy(np.ascontiguousarray(self.dataset.images)).to(self.device)
        labels = None
        if self.dataset.labels is not None:
            labels = torch.from_numpy(np.asarray(self.dataset.labels, dtype=np.int64)).to(self.device)
        return images, labels

    def _shuffled(self) -> torch.Tensor:
        return self.train_indices[torch.randperm(len(self.train_indices), generator=self.data_gen)]

    def _next_indices(self, n: int) -> torch.Tensor:
        out = []
        while n > 0:
            if self.pos >= len(self.perm):
                self.perm = self._shuffled()
                self.pos = 0
            take = min(n, len(self.perm) - self.pos)
            out.append(self.perm[self.pos : self.pos + take])
            self.pos += take
            n -= take
        return torch.cat(out)

    def _rank_slice(self, t: torch.Tensor) -> torch.Tensor:
        start = self.dist.rank * self.batch_per_rank
        return t[start : start + self.batch_per_rank]

    def next_batch(self) -> dict[str, Any]:
        """The rank's share of the next global batch: reals in [-1, 1], labels, and latents."""
        cfg = self.config
        idx = self._next_indices(cfg.batch_size)
        flips = torch.rand(cfg.batch_size, generator=self.data_gen) < 0.5 if cfg.mirror else None
        # G main, D main and path length each get their own latents (and labels), as in StyleGAN2.
        z_main = torch.randn(cfg.batch_size, 3, cfg.network.z_dim, generator=self.latent_gen)
        gen_idx = torch.randint(0, len(self.dataset), (cfg.batch_size, 2), generator=self.latent_gen)
        idx, z_main, gen_idx = self._rank_slice(idx), self._rank_slice(z_main), self._rank_slice(gen_idx)
        if self.device_images is not None:
            idx_dev = self._to_device(idx)
            images = self.device_images[idx_dev]
            labels = self.device_labels[idx_dev] if self.device_labels is not None else None
            gen_labels = (
                self.device_labels[self._to_device(gen_idx)] if self.device_labels is not None else None
            )
        else:
            images_np, labels = self.dataset.batch(idx.numpy())
            images = self._to_device(torch.from_numpy(images_np))
            gen_labels = self.dataset.labels[gen_idx.numpy()] if self.dataset.labels is not None else None
        real = images.permute(0, 3, 1, 2).float() / 127.5 - 1
        if flips is not None:
            f = self._to_device(self._rank_slice(flips))
            real = torch.where(f[:, None, None, None], real.flip(3), real)
        real = real.contiguous(memory_format=self.memory_format)
        z_main = self._to_device(z_main)
        gen_c = self._one_hot(gen_labels)
        return {
            "real": real,
            "real_c": self._one_hot(labels),
            "z_g": z_main[:, 0],
            "z_d": z_main[:, 1],
            "z_pl": z_main[:, 2],
            "gen_c": gen_c[:, 0] if gen_c is not None else None,
            "gen_c_pl": gen_c[:, 1] if gen_c is not None else None,
        }

    def _optimise(
        self, module: torch.nn.Module, opt: torch.optim.Optimizer, scaler, loss: torch.Tensor
    ) -> None:
        scaler.scale(loss).backward()
        self.dist.average_gradients(module)
        scaler.unscale_(opt)
        for p in module.parameters():
            if p.grad is not None:
                # One bad batch must not poison Adam's moments with NaN/inf.
                torch.nan_to_num(p.grad, nan=0.0, posinf=1e5, neginf=-1e5, out=p.grad)
        scaler.step(opt)
        scaler.update()

    def step(self) -> dict[str, torch.Tensor]:
        """Train one global batch: G main (+ path length), D main (+ R1), EMA, ADA.

        Returns the step's statistics as 0-d tensors on the device: reading them (``float``)
        waits for the device, so the loop reads them once per tick."""
        cfg = self.config
        batch = self.next_batch()
        stats: dict[str, torch.Tensor] = {}

        self.G.requires_grad_(True)
        self.D.requires_grad_(False)
        self.opt_G.zero_grad(set_to_none=True)
        loss_G = self.loss.g_main(batch["z_g"], batch["gen_c"])
        self._optimise(self.G, self.opt_G, self.scaler_G, loss_G)
        stats["loss_G"] = self.dist.all_reduce_mean(loss_G.detach())
        if cfg.pl_weight > 0 and self.step_count % cfg.pl_interval == 0:
            self.opt_G.zero_grad(set_to_none=True)
            loss_pl, lengths = self.loss.g_path_length(batch["z_pl"], batch["gen_c_pl"], cfg.pl_interval)
            self._optimise(self.G, self.opt_G, self.scaler_G, loss_pl)
            stats["pl"] = self.dist.all_reduce_mean(lengths)

        self.G.requires_grad_(False)
        self.D.requires_grad_(True)
        self.opt_D.zero_grad(set_to_none=True)
        loss_D, real_logits = self.loss.d_main(batch["real"], batch["real_c"], batch["z_d"], batch["gen_c"])
        self._optimise(self.D, self.opt_D, self.scaler_D, loss_D)
        stats["loss_D"] = self.dist.all_reduce_mean(loss_D.detach())
        if cfg.r1_gamma_value > 0 and self.step_count % cfg.r1_interval == 0:
            self.opt_D.zero_grad(set_to_none=True)
            loss_r1, penalty = self.loss.d_r1(batch["real"], batch["real_c"], cfg.r1_interval)
            self._optimise(self.D, self.opt_D, self.scaler_D, loss_r1)
            stats["r1"] = self.dist.all_reduce_mean(penalty)
        self.D.requires_grad_(False)

        self.nimg += cfg.batch_size
        self.step_count += 1
        self.dist.average_buffers(self.G)
        with torch.no_grad():
            # ema = p + beta * (ema - p), as one foreach kernel over all parameters.
            torch._foreach_lerp_(self._ema_params, self._params, 1.0 - cfg.ema_beta(self.nimg))
            torch._foreach_copy_(self._ema_buffers, self._buffers)

        if self.ada is not None:
            signs = torch.sign(real_logits.float()).sum(dtype=torch.float64)
            self.dist.all_reduce_sum_(signs)
            self.ada.add_counts(signs, real_logits.numel() * self.dist.world_size)
            self.ada.step()
            stats["augment_p"] = self.augment_pipe.p.detach().clone()
        return stats

    # Checkpoint state -------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        rng = self.dist.gather_objects(_rng_state())
        return {
            "G": self.G.state_dict(),
            "D": self.D.state_dict(),
            "G_ema": self.G_ema.state_dict(),
            "opt_G": self.opt_G.state_dict(),
            "opt_D": self.opt_D.state_dict(),
            "scaler_G": self.scaler_G.state_dict(),
            "scaler_D": self.scaler_D.state_dict(),
            "ada": self.ada.state_dict() if self.ada is not None else {},
            "loss": self.loss.state_dict(),
            "progress": {"nimg": self.nimg, "step": self.step_count},
            "data": {
                "generator": self.data_gen.get_state(),
                "latent_generator": self.latent_gen.get_state(),
                "perm": self.perm.clone(),
                "pos": self.pos,
            },
            "rng": rng,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["G"])
        self.D.load_state_dict(state["D"])
        self.G_ema.load_state_dict(state["G_ema"])
        self.opt_G.load_state_dict(state["opt_G"])
        self.opt_D.load_state_dict(state["opt_D"])
        if state["scaler_G"]:
            self.scaler_G.load_state_dict(state["scaler_G"])
        if state["scaler_D"]:
            self.scaler_D.load_state_dict(state["scaler_D"])
        if self.ada is not None and state["ada"]:
            self.ada.load_state_dict(state["ada"])
        self.loss.load_state_dict(state["loss"])
        self.nimg = int(state["progress"]["nimg"])
        self.step_count = int(state["progress"]["step"])
        data = state["data"]
        self.data_gen.set_state(data["generator"])
        self.latent_gen.set_state(data["latent_generator"])
        self.perm = data["perm"].clone()
        self.pos = int(data["pos"])
        rng = state["rng"]
        if self.dist.rank < len(rng):
            _set_rng_state(rng[self.dist.rank])
        else:
            # Resumed on more processes than were saved: new ranks get fresh, distinct streams.
            seed = self.config.seed + 7919 * self.dist.rank + self.step_count
            torch.manual_seed(seed)
            np.random.seed(seed % 2**32)
            random.seed(seed)

    # Side outputs -----------------------------------------------------------------------

    def sample_grid(self, path: Path) -> Path:
        from training.engine.generate import images_to_grid

        with preserved_rng():
            images = self._fixed_samples(list(range(GRID_COLS * GRID_ROWS)))
        path.parent.mkdir(parents=True, exist_ok=True)
        images_to_grid(images, GRID_COLS).save(path)
        return path

    def _fixed_samples(self, seeds: list[int]) -> np.ndarray:
        from training.engine.generate import generate_images

        n_cls = self.config.network.num_classes
        if n_cls == 0:
            return generate_images(self.G_ema, seeds, noise_mode="const")
        out = np.zeros((len(seeds), *([self.config.network.resolution] * 2), 3), dtype=np.uint8)
        for cls in range(n_cls):
            pick = [i for i in range(len(seeds)) if (i // GRID_COLS) % n_cls == cls]
            if pick:
                out[pick] = generate_images(
                    self.G_ema, [seeds[i] for i in pick], noise_mode="const", class_idx=cls
                )
        self.G_ema.eval()
        return out

    def measure_quality(self) -> QualityReport:
        """The quality report of the EMA generator now: ``metric_samples`` fakes against as many
        held-out reals (all reals when the dataset is too small to hold any out)."""
        from training.engine.generate import generate_images
        from training.engine.quality import MAX_TRAINING, measure_quality, training_features

        n_cls = self.config.network.num_classes
        seen = len(self.held_out_indices) == 0
        pool = self.train_indices.numpy() if seen else self.held_out_indices
        n = min(self.config.metric_samples, len(pool))
        reals, labels = self.dataset.batch(pool[np.linspace(0, len(pool) - 1, n).round().astype(np.int64)])
        if self._training_features is None:
            train_idx = self.train_indices.numpy()
            pick = (
                np.linspace(0, len(train_idx) - 1, min(len(train_idx), MAX_TRAINING)).round().astype(np.int64)
            )
            self._training_features = training_features(self.dataset.batch(train_idx[pick])[0])

        def paint(seeds: list[int], class_idx: int | None) -> np.ndarray:
            if n_cls and class_idx is None:  # pooled over the classes, in turn, as the sample grid
                out = np.zeros((len(seeds), *reals.shape[1:]), dtype=np.uint8)
                for cls in range(n_cls):
                    pick = list(range(cls, len(seeds), n_cls))
                    if pick:
                        out[pick] = paint([seeds[i] for i in pick], cls)
                return out
            out = generate_images(self.G_ema, seeds, noise_mode="const", class_idx=class_idx)
            self.G_ema.eval()
            return out

        per_class = n_cls > 0 and labels is not None and np.bincount(labels).min() >= 8
        with preserved_rng():
            return measure_quality(
                paint,
                reals,
                training=self._training_features,
                n_fake=max(n, 8),
                seed=self.config.seed,
                labels=labels if per_class else None,
                seed_start=METRIC_SEED_BASE,
                kimg=self.kimg,
                reals_seen_in_training=seen,
            )

    def describe(self) -> dict[str, Any]:
        return {
            "config": self.config.to_dict(),
            "device": str(self.device),
            "precision": self.precision_name,
            "world_size": self.dist.world_size,
            "batch_per_rank": self.batch_per_rank,
            "params_G": _count_params(self.G),
            "params_G_mapping": _count_params(self.G.mapping),
            "params_G_synthesis": _count_params(self.G.synthesis),
            "params_D": _count_params(self.D),
            "dataset": str(self.dataset.path),
            "dataset_images": len(self.dataset),
            "held_out_images": len(self.held_out_indices),
            "quality_not_measured": self.unmeasured_reason,
            "r1_gamma": self.config.r1_gamma_value,
        }


def quality_figures(report: QualityReport) -> dict[str, float]:
    """The report's headline figures, flat, for stats lines and charts (SWD per level too)."""
    figures: dict[str, Any] = {"swd": report.swd, **report.swd_levels, "swd_floor": report.swd_floor}
    for key in ("precision", "recall", "diversity", "near_duplicate_rate", "copy_rate"):
        figures[key] = getattr(report, key)
    figures["quality_passed"] = report.passed
    return figures


def _memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _trim_stats(path: Path, step: int) -> None:
    """On resume, drop stats lines written after the checkpoint (they will be written again)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        if line.strip() and json.loads(line).get("step", 0) <= step:
            kept.append(line)
    path.write_text("".join(f"{line}\n" for line in kept))


class _Run:
    """Bookkeeping of ``train()``: ticks, stats lines, checkpoints, callbacks (rank 0 writes)."""

    def __init__(self, trainer: Trainer, run_dir: Path, callbacks: TrainCallbacks, progress: bool) -> None:
        self.t = trainer
        self.cfg = trainer.config
        self.run_dir = run_dir
        self.cb = callbacks
        self.main = trainer.dist.is_main
        self.stats_path = run_dir / "stats.jsonl"
        self.ckpt_dir = run_dir / "checkpoints"
        self.sample_dir = run_dir / "samples"
        self.total_nimg = round(self.cfg.total_kimg * 1000)
        self.last_checkpoint: Path | None = None
        self.last_checkpoint_nimg = -1
        self.metrics: dict[str, float] = {}  # the latest measurement's figures
        self.quality: QualityReport | None = None  # and its report
        self.measured_nimg = -1  # when it was taken: a checkpoint keeps only its own measurement
        self.fresh_metrics = False  # measured since the last stats line
        self.bar = tqdm(
            total=self.total_nimg,
            initial=min(trainer.nimg, self.total_nimg),
            unit="img",
            unit_scale=True,
            disable=not (progress and self.main),
            dynamic_ncols=True,
        )
        self._reset_tick()

    def _reset_tick(self) -> None:
        self.tick_start_nimg = self.t.nimg
        self.tick_start_time = time.perf_counter()
        self.tick_values: dict[str, list[torch.Tensor]] = {}
        self.last_progress_time = time.perf_counter()

    def record(self, step_stats: dict[str, torch.Tensor]) -> None:
        for k, v in step_stats.items():
            self.tick_values.setdefault(k, []).append(v)
        self.bar.update(self.cfg.batch_size)
        if self.main and time.perf_counter() - self.last_progress_time >= PROGRESS_SECONDS:
            self.last_progress_time = time.perf_counter()
            self.cb.on_progress(self.current_stats())

    def current_stats(self) -> dict[str, Any]:
        elapsed = max(time.perf_counter() - self.tick_start_time, 1e-9)
        done = self.t.nimg - self.tick_start_nimg
        images_per_second = done / elapsed
        stats: dict[str, Any] = {"kimg": round(self.t.kimg, 3), "step": self.t.step_count}
        for key in ("loss_G", "loss_D", "r1", "pl", "augment_p"):
            values = self.tick_values.get(key)
            # One read of the device per statistic, here and not in the step.
            stats[key] = (
                float(torch.stack([torch.as_tensor(v) for v in values]).double().mean()) if values else None
            )
        stats["augment_p"] = self.t.ada.p if self.t.ada is not None else 0.0
        stats["sec_per_kimg"] = elapsed / (done / 1000) if done else None
        stats["images_per_second"] = images_per_second if done else None
        stats["mem_mb"] = round(_memory_mb(self.t.device), 1)
        remaining = max(self.total_nimg - self.t.nimg, 0)
        stats["eta_seconds"] = remaining / images_per_second if done else None
        if self.fresh_metrics:
            stats.update(self.metrics)
            if self.quality is not None:
                stats["quality"] = self.quality.to_dict()
        if self.bar is not None and stats["loss_G"] is not None:
            self.bar.set_postfix(
                G=f"{stats['loss_G']:.3f}", D=f"{stats['loss_D']:.3f}", p=f"{stats['augment_p']:.3f}"
            )
        return stats

    def tick(self) -> None:
        stats = self.current_stats()
        if self.main:
            with open(self.stats_path, "a") as f:
                f.write(json.dumps(stats) + "\n")
            grid = self.t.sample_grid(self.sample_dir / f"fakes-{self.t.step_count:08d}.png")
            self.cb.on_tick(stats, grid)
            self.cb.on_progress(stats)
        self.fresh_metrics = False
        self.t.dist.barrier()
        self._reset_tick()

    def measure(self) -> None:
        """The quality report of the EMA generator; reported in the next stats line (its own line
        at step 0) with the kimg it was measured at, and kept by a checkpoint taken at this point."""
        if self.t.unmeasured_reason is not None:
            return  # every rank alike, so no barrier is waited on alone
        if self.main:
            self.quality = self.t.measure_quality()
            self.metrics = quality_figures(self.quality)
            self.fresh_metrics = True
            if self.t.step_count == 0:
                line = {"kimg": 0.0, "step": 0, **self.metrics, "quality": self.quality.to_dict()}
                with open(self.stats_path, "a") as f:
                    f.write(json.dumps(line) + "\n")
                self.fresh_metrics = False
        self.measured_nimg = self.t.nimg
        self.t.dist.barrier()

    def checkpoint(self) -> Path | None:
        if self.last_checkpoint_nimg == self.t.nimg:
            return self.last_checkpoint
        if self.cfg.metric_kimg and self.measured_nimg != self.t.nimg:
            self.measure()  # every checkpoint carries a report measured on itself
        own = self.measured_nimg == self.t.nimg  # never an earlier checkpoint's figures
        state = self.t.state_dict()  # every rank joins the RNG gather
        path = self.ckpt_dir / checkpoint_name(self.t.step_count)
        if self.main:
            stats = self.current_stats()
            state["meta"] = {
                "config": self.cfg.to_dict(),
                "kimg": self.t.kimg,
                "nimg": self.t.nimg,
                "step": self.t.step_count,
                "world_size": self.t.dist.world_size,
                "metrics": dict(self.metrics) if own else {},
                "quality": self.quality.to_dict() if own and self.quality is not None else None,
                "augment_p": self.t.ada.p if self.t.ada is not None else 0.0,
                "stats": stats,
                "dataset": str(self.t.dataset.path),
                "held_out_images": len(self.t.held_out_indices),  # never trained on (dataset.held_out_split)
                "saved_at": time.time(),
                "host": host_description(self.t.device),  # the host that trained the last steps
                "format": "aag-stylegan-checkpoint/1",
            }
            save_checkpoint(path, state)
            self._prune()
            self.cb.on_checkpoint(path, stats)
        self.t.dist.barrier()
        self.last_checkpoint = path
        self.last_checkpoint_nimg = self.t.nimg
        return path

    def _prune(self) -> None:
        keep = self.cfg.keep_checkpoints
        if keep <= 0:
            return
        for old in list_checkpoints(self.run_dir)[:-keep]:
            old.unlink()
            sidecar_path(old).unlink(missing_ok=True)


def train(
    config: TrainConfig,
    dataset_path: Path,
    run_dir: Path,
    callbacks: TrainCallbacks | None = None,
    resume: str | Path | None = "auto",
    progress: bool = True,
) -> TrainResult:
    """Train until ``config.total_kimg`` (or until ``callbacks.should_stop()``), writing
    ``run_dir/stats.jsonl``, ``run_dir/samples/*.png`` and ``run_dir/checkpoints/*.pt``.

    ``resume``: "auto" continues from the newest valid checkpoint in run_dir if any;
    a path continues from that checkpoint; None starts fresh (refused if run_dir has checkpoints).
    """
    run_dir = Path(run_dir)
    callbacks = callbacks or TrainCallbacks()
    device_type = resolve_device(config.device).type
    dist_ctx = init_distributed(device_type)
    try:
        return _train(config, Path(dataset_path), run_dir, callbacks, resume, progress, dist_ctx)
    finally:
        dist_ctx.shutdown()


def _resume_path(run_dir: Path, resume: str | Path | None) -> Path | None:
    if resume is None or resume == "none":
        if list_checkpoints(run_dir):
            raise ValueError(
                f"{run_dir} already holds checkpoints; pass resume='auto' to continue that run "
                "or choose an empty run directory."
            )
        return None
    if resume == "auto":
        return latest_checkpoint(run_dir)
    return Path(resume)


def _train(
    config: TrainConfig,
    dataset_path: Path,
    run_dir: Path,
    callbacks: TrainCallbacks,
    resume: str | Path | None,
    progress: bool,
    dist_ctx: DistContext,
) -> TrainResult:
    dataset = PackedDataset(dataset_path)
    trainer = Trainer(config, dataset, dist_ctx)
    resume_from = _resume_path(run_dir, resume)
    saved_metrics: dict[str, float] = {}
    saved_quality: dict | None = None
    if resume_from is not None:
        state = load_checkpoint(resume_from)
        saved_network = state["meta"]["config"]["network"]
        if saved_network != config.network.to_dict():
            raise ValueError(
                f"Checkpoint {resume_from} was trained with network {saved_network}, which differs from "
                f"this config's {config.network.to_dict()}; resume with the same network settings."
            )
        trainer.load_state_dict(state)
        saved_metrics = dict(state["meta"].get("metrics", {}))
        saved_quality = state["meta"].get("quality")
        del state
    if dist_ctx.is_main:
        run_dir.mkdir(parents=True, exist_ok=True)
        (run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=1))
        if resume_from is not None:
            _trim_stats(run_dir / "stats.jsonl", trainer.step_count)
        else:
            (run_dir / "stats.jsonl").write_text("")
    dist_ctx.barrier()
    run = _Run(trainer, run_dir, callbacks, progress)
    if resume_from is not None:
        run.last_checkpoint, run.last_checkpoint_nimg = resume_from, trainer.nimg
        run.metrics = saved_metrics
        if saved_quality is not None:
            from training.engine.quality import QualityReport

            run.quality = QualityReport.from_dict(saved_quality)
        if saved_metrics:
            run.measured_nimg = trainer.nimg
    if dist_ctx.is_main:
        info = trainer.describe()
        info.update(
            run_dir=str(run_dir), resumed_from=str(resume_from) if resume_from else None, kimg=trainer.kimg
        )
        callbacks.on_start(info)

    tick_nimg = max(int(config.tick_kimg * 1000), 1)
    ckpt_nimg = max(int(config.checkpoint_kimg * 1000), 1)
    metric_nimg = int(config.metric_kimg * 1000) if config.metric_kimg else None
    if metric_nimg and trainer.nimg == 0:
        run.measure()  # the starting point that later SWD values are compared with
    if dist_ctx.is_main and trainer.nimg == 0:
        from training.engine.generate import images_to_grid

        reals, _ = dataset.batch(np.arange(min(len(dataset), GRID_COLS * GRID_ROWS)))
        run.sample_dir.mkdir(parents=True, exist_ok=True)
        images_to_grid(reals, GRID_COLS).save(run.sample_dir / "reals.png")

    stopped = False
    deadline = time.monotonic() + config.max_minutes * 60 if config.max_minutes else None
    try:
        while trainer.nimg < run.total_nimg:
            out_of_time = deadline is not None and time.monotonic() >= deadline
            if dist_ctx.any_flag(
                dist_ctx.is_main and (out_of_time or callbacks.should_stop()), trainer.device
            ):
                stopped = True
                break
            before = trainer.nimg
            run.record(trainer.step())
            done = trainer.nimg >= run.total_nimg

            def crossed(every: int, before: int = before) -> bool:
                return trainer.nimg // every > before // every

            if metric_nimg and (crossed(metric_nimg) or done):
                run.measure()
            if crossed(tick_nimg) or done:
                run.tick()
            if crossed(ckpt_nimg) and not done:
                run.checkpoint()
        last = run.checkpoint()
    finally:
        run.bar.close()
    return TrainResult(kimg=trainer.kimg, steps=trainer.step_count, stopped=stopped, last_checkpoint=last)
